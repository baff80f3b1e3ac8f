"""Our overrides of Django's locale formats (`FORMAT_MODULE_PATH`).

- `en`: the program's English is British (dates `4 Dec 2026`, day-first input), as it was when
  `LANGUAGE_CODE` was `en-gb`; the language code itself is `en`, as members' `locale` says.
- `zh_Hans`: Django's dates (`2026年12月4日`) with the thousands grouped by three and a comma
  (`1,234.50`), as Chinese shops show prices, instead of Django's ungrouped default.
"""
