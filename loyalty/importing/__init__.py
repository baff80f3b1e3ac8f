"""The historical orders import (`../../docs/import.md`; contract in the spec's import.md).

Years of a shop's order history in, safely: every customer becomes the member they would have
been, with the orders, points (pending, available or expired as their dates say), refunds and tier
they would have had. One implementation serves the command (`manage.py import_orders`) and the
admin; both call `loyalty.importing.pipeline.import_orders`.

Modules, in the order the data flows:
- `reader`: opens the file safely (UTF-8 only, delimiter detection), streams records;
- `profiles`: the formats and column mappings (built-in and staff-defined);
- `values`, `formats`, `assemble`: cells to validated, staged orders and refunds;
- `earning`: what each order earns and each refund reverses (the ledger's rule functions);
- `staging`: temporary tables and bulk writes (COPY on PostgreSQL);
- `checks`: set-based checks across rows and against the ledger;
- `writer`: postings, lots and balances, with the ledger's own earning rules;
- `runs`: the run record and "one import of a file at a time";
- `pipeline`: all of the above, end to end;
- `demo`: the demo data's import of the UCI Online Retail sample (`samples/`);
- `synthetic`: seeded order histories for the benchmark and the tests.

Exports (formulas escaped) are `members.exports` and `loyalty.exports`.
"""
