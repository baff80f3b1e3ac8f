"""Settings package: `base` holds everything shared; `local`, `test` and `production` adjust it.

Every value that differs between machines is read from the environment (django-environ); the full
list is in `.env.example`. Production has no defaults for secrets.
"""
