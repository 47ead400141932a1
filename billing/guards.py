"""Database guards that no session setting switches off (DESIGN.md section 2, invariant I7).

The ledger tables refuse UPDATE, DELETE and TRUNCATE with plain PostgreSQL triggers
installed by migrations (the SQL below), not with django-pgtrigger's Protect: those
honour `SET pgtrigger.ignore`, which any role may set. These triggers:

- call no "should I ignore" hook, so `pgtrigger.ignore` means nothing to them;
- are `ENABLE ALWAYS`, so `SET session_replication_role = replica` (superusers only)
  does not silence them either;
- refuse TRUNCATE (and TRUNCATE ... CASCADE from a parent table) with a
  `BEFORE TRUNCATE` statement trigger.

Only the table's owner can drop or disable a trigger; in production the application
connects as a role that owns nothing (`manage.py db_roles`), so the triggers and the
missing UPDATE/DELETE/TRUNCATE privileges hold for it together.

The one escape hatch is for wiping a whole database (the test suite's flush between
transactional tests, `manage.py flush` in development): TRUNCATE passes when the
session sets `settle.maintenance = 'on'` *and* `current_user` owns the table. UPDATE and
DELETE never pass. The production application role owns nothing, so it can never use it.

LEDGER_TABLES is the one list of append-only tables: migrations install a guard on
each, `db_roles` withholds UPDATE/DELETE on them, and the tests walk it.
"""

from __future__ import annotations

LEDGER_TABLES: tuple[str, ...] = (
    "allocations_allocation",
    "payments_refund",
    "payments_chargeback",
    "invoices_creditnote",
    "invoices_creditnoteline",
    "invoices_invoicestatuschange",
    "payments_paymentstatuschange",
    "orders_orderstatuschange",
    "orders_orderlinemovement",
    "registrations_registrationchange",
    "plans_penaltyassessment",
    "plans_penaltyrule",
    "plans_penaltywaiver",
    "plans_planstatuschange",
    "billing_collectionnote",
    "reconciliation_reconciliationdifference",
    "ledger_entry",
    "documents_document",
    "documents_documentpdf",
    "documents_delivery",
    "exports_exportbatch",
    "exports_exportchunk",
    "exports_exportitem",
    "exports_exportbalance",
    "exports_delivery",
)
"""Append-only: INSERT and SELECT only, for every role."""

BANK_ENTRY_FACTS: tuple[str, ...] = (
    "bank_reference",
    "booking_date",
    "amount",
    "currency",
    "credit",
    "reversal",
    "counterparty_name",
    "customer_reference",
    "remittance_text",
    "source_name",
    "source_position",
    "imported_at",
    "imported_by_id",
)
"""What the bank said: a bank entry's status moves on, these columns never change."""

NEVER_DELETED_TABLES: tuple[str, ...] = ("payments_bankentry",)
"""Updated (status) but never deleted: the application role gets UPDATE but not DELETE."""

MAINTENANCE_SETTING = "settle.maintenance"
"""`SET LOCAL settle.maintenance = 'on'` lets the tables' owner TRUNCATE (and nothing else)."""

MAINTENANCE_SQL = f"SET LOCAL {MAINTENANCE_SETTING} = 'on'"

# Functions that look tables up run with a fixed search_path: pg_temp last, so a temporary
# table named like a real one (any role may create those) cannot stand in for it.
_SAFE_PATH = "SET search_path = pg_catalog, public, pg_temp"


def allow_owner_flush() -> None:
    """Let Django's flush TRUNCATE the guarded tables when it runs as their owner.

    Django flushes (`manage.py flush`, and pytest-django between transactional tests)
    with one TRUNCATE of every table; the guards refuse it unless the same transaction
    sets settle.maintenance and the session's role owns the tables. Installed by
    BillingConfig.ready when SETTLE_FLUSH_AS_OWNER is on (development and tests only).
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    if getattr(DatabaseOperations.execute_sql_flush, "settle_maintenance", False):
        return
    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        # execute_sql_flush runs the list in one transaction: SET LOCAL lasts exactly that long.
        return original(self, [MAINTENANCE_SQL, *sql_list] if sql_list else sql_list)

    # Deliberate monkey-patching: a marker on the function (installed once) and the patch itself.
    execute_sql_flush.settle_maintenance = True  # type: ignore[attr-defined]
    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]


APPEND_ONLY_TRIGGER = "settle_append_only"
NO_TRUNCATE_TRIGGER = "settle_no_truncate"

_MAINTENANCE_ALLOWED = f"""
CREATE OR REPLACE FUNCTION settle_maintenance_allowed(relid oid) RETURNS boolean
LANGUAGE sql STABLE {_SAFE_PATH} AS $$
    SELECT coalesce(pg_catalog.current_setting('{MAINTENANCE_SETTING}', true), '') = 'on'
       AND (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = relid)
           = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = pg_catalog.current_user())
$$;
"""

FUNCTIONS_SQL = (
    _MAINTENANCE_ALLOWED
    + f"""
CREATE OR REPLACE FUNCTION settle_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'Cannot update or delete rows from % table: %', TG_TABLE_NAME,
        coalesce(TG_ARGV[0], 'its rows are append-only (a correction is a new row)') USING ERRCODE = 'P0001';
END;
$$;

CREATE OR REPLACE FUNCTION settle_refuse_truncate() RETURNS trigger LANGUAGE plpgsql {_SAFE_PATH} AS $$
BEGIN
    IF settle_maintenance_allowed(TG_RELID) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'Cannot truncate % table: its rows are append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
END;
$$;
"""
)
"""The shared trigger functions (installed once, by the billing app's guard migration)."""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS settle_refuse_truncate();
DROP FUNCTION IF EXISTS settle_refuse_rewrite();
DROP FUNCTION IF EXISTS settle_maintenance_allowed(oid);
"""


def no_truncate_sql(table: str) -> str:
    """A BEFORE TRUNCATE refusal on `table`, always enabled."""
    return f"""
CREATE TRIGGER {NO_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION settle_refuse_truncate();
ALTER TABLE {table} ENABLE ALWAYS TRIGGER {NO_TRUNCATE_TRIGGER};
"""


def drop_no_truncate_sql(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {NO_TRUNCATE_TRIGGER} ON {table};\n"


def append_only_sql(table: str) -> str:
    """SQL making `table` append-only: UPDATE, DELETE and TRUNCATE refused, whatever the session says."""
    return f"""
CREATE TRIGGER {APPEND_ONLY_TRIGGER} BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION settle_refuse_rewrite();
ALTER TABLE {table} ENABLE ALWAYS TRIGGER {APPEND_ONLY_TRIGGER};
""" + no_truncate_sql(table)


def drop_append_only_sql(table: str) -> str:
    """The reverse of append_only_sql."""
    return f"DROP TRIGGER IF EXISTS {APPEND_ONLY_TRIGGER} ON {table};\n" + drop_no_truncate_sql(table)


def facts_fixed_sql(table: str, facts: tuple[str, ...]) -> str:
    """SQL for a table whose rows are never deleted and whose `facts` columns never change."""
    old = ", ".join(f"OLD.{column}" for column in facts)
    new = ", ".join(f"NEW.{column}" for column in facts)
    return f"""
CREATE TRIGGER settle_no_delete BEFORE DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION settle_refuse_rewrite('its rows are never deleted');
ALTER TABLE {table} ENABLE ALWAYS TRIGGER settle_no_delete;
CREATE TRIGGER settle_facts_fixed BEFORE UPDATE ON {table}
    FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new}))
    EXECUTE FUNCTION settle_refuse_rewrite('what the bank said never changes, only the status moves on');
ALTER TABLE {table} ENABLE ALWAYS TRIGGER settle_facts_fixed;
""" + no_truncate_sql(table)


def drop_facts_fixed_sql(table: str) -> str:
    return (
        f"DROP TRIGGER IF EXISTS settle_no_delete ON {table};\n"
        f"DROP TRIGGER IF EXISTS settle_facts_fixed ON {table};\n" + drop_no_truncate_sql(table)
    )


ISSUED_INVOICE_FIXED: tuple[str, ...] = (
    "total",
    "currency",
    "customer_id",
    "provider_id",
    "account_id",
    "number",
    "sequence",
    "issue_date",
    "due_date",
)
"""What an issued (open or void) invoice never changes again; its state, payment status and
cached paid/credited/balance figures still move through the ledger's refresh and void."""

INVOICE_GUARDS_SQL = (
    f"""
CREATE OR REPLACE FUNCTION settle_refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'Cannot % invoice % (id %): it is %, and an issued invoice never changes (a correction is a credit note)',
        lower(TG_OP), coalesce(OLD.number, 'draft'), OLD.id, OLD.state USING ERRCODE = 'P0001';
END;
$$;

CREATE TRIGGER settle_issued_invoice_fixed BEFORE UPDATE ON invoices_invoice FOR EACH ROW
    WHEN (OLD.state <> 'draft' AND (
        ({", ".join(f"OLD.{c}" for c in ISSUED_INVOICE_FIXED)}) IS DISTINCT FROM
        ({", ".join(f"NEW.{c}" for c in ISSUED_INVOICE_FIXED)})
        OR (NEW.state <> OLD.state AND NOT (OLD.state = 'open' AND NEW.state = 'void'))))
    EXECUTE FUNCTION settle_refuse_issued_invoice_change();
ALTER TABLE invoices_invoice ENABLE ALWAYS TRIGGER settle_issued_invoice_fixed;
CREATE TRIGGER settle_issued_invoice_kept BEFORE DELETE ON invoices_invoice FOR EACH ROW
    WHEN (OLD.state <> 'draft') EXECUTE FUNCTION settle_refuse_issued_invoice_change();
ALTER TABLE invoices_invoice ENABLE ALWAYS TRIGGER settle_issued_invoice_kept;

CREATE OR REPLACE FUNCTION settle_refuse_issued_line_change() RETURNS trigger LANGUAGE plpgsql {_SAFE_PATH} AS $$
DECLARE
    issued record;
BEGIN
    -- One set-based look-up per statement (transition tables), so a bulk load of lines stays cheap.
    IF TG_OP = 'INSERT' THEN
        SELECT i.id, i.number, i.state INTO issued FROM new_rows l JOIN invoices_invoice i ON i.id = l.invoice_id
        WHERE i.state <> 'draft' LIMIT 1;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT i.id, i.number, i.state INTO issued
        FROM (SELECT invoice_id FROM old_rows UNION SELECT invoice_id FROM new_rows) l
        JOIN invoices_invoice i ON i.id = l.invoice_id WHERE i.state <> 'draft' LIMIT 1;
    ELSE
        SELECT i.id, i.number, i.state INTO issued FROM old_rows l JOIN invoices_invoice i ON i.id = l.invoice_id
        WHERE i.state <> 'draft' LIMIT 1;
    END IF;
    IF issued.id IS NOT NULL THEN
        RAISE EXCEPTION 'Cannot % lines of invoice % (id %): it is %, and an issued invoice''s lines never change',
            lower(TG_OP), coalesce(issued.number, 'draft'), issued.id, issued.state USING ERRCODE = 'P0001';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER settle_issued_lines_insert AFTER INSERT ON invoices_invoiceline
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION settle_refuse_issued_line_change();
ALTER TABLE invoices_invoiceline ENABLE ALWAYS TRIGGER settle_issued_lines_insert;
CREATE TRIGGER settle_issued_lines_update AFTER UPDATE ON invoices_invoiceline
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION settle_refuse_issued_line_change();
ALTER TABLE invoices_invoiceline ENABLE ALWAYS TRIGGER settle_issued_lines_update;
CREATE TRIGGER settle_issued_lines_delete AFTER DELETE ON invoices_invoiceline
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION settle_refuse_issued_line_change();
ALTER TABLE invoices_invoiceline ENABLE ALWAYS TRIGGER settle_issued_lines_delete;
"""
    + no_truncate_sql("invoices_invoice")
    + no_truncate_sql("invoices_invoiceline")
)
"""Issued invoices and their lines, guarded like the ledger (DESIGN.md sections 2 and 3)."""

ISSUED_PLAN_LINKS: tuple[str, ...] = (
    "kind",
    "plan_id",
    "plan_sequence",
    "installment_id",
    "penalty_period",
    "penalty_revision",
)
"""What an issued invoice says about the plan it belongs to (DESIGN.md section 10), fixed like its
total: a penalty's period and installment are what I11 counts. A trigger of its own, installed
by the migration after the one that added the columns (invoices 0014), so the older guard stays as it was."""

PLAN_LINKS_GUARD_SQL = f"""
CREATE TRIGGER settle_issued_plan_links_fixed BEFORE UPDATE ON invoices_invoice FOR EACH ROW
    WHEN (OLD.state <> 'draft' AND
        ({", ".join(f"OLD.{c}" for c in ISSUED_PLAN_LINKS)}) IS DISTINCT FROM
        ({", ".join(f"NEW.{c}" for c in ISSUED_PLAN_LINKS)}))
    EXECUTE FUNCTION settle_refuse_issued_invoice_change();
ALTER TABLE invoices_invoice ENABLE ALWAYS TRIGGER settle_issued_plan_links_fixed;
"""

DROP_PLAN_LINKS_GUARD_SQL = "DROP TRIGGER IF EXISTS settle_issued_plan_links_fixed ON invoices_invoice;\n"

DROP_INVOICE_GUARDS_SQL = (
    """
DROP TRIGGER IF EXISTS settle_issued_invoice_fixed ON invoices_invoice;
DROP TRIGGER IF EXISTS settle_issued_invoice_kept ON invoices_invoice;
DROP TRIGGER IF EXISTS settle_issued_lines_insert ON invoices_invoiceline;
DROP TRIGGER IF EXISTS settle_issued_lines_update ON invoices_invoiceline;
DROP TRIGGER IF EXISTS settle_issued_lines_delete ON invoices_invoiceline;
DROP FUNCTION IF EXISTS settle_refuse_issued_line_change();
DROP FUNCTION IF EXISTS settle_refuse_issued_invoice_change();
"""
    + drop_no_truncate_sql("invoices_invoice")
    + drop_no_truncate_sql("invoices_invoiceline")
)


# Production roles (`manage.py db_roles`): an owner that owns the schema and every table and
# runs the migrations, and an application role that owns nothing.

ROLE_NAME = r"^[a-z_][a-z0-9_]{0,62}$"


def roles_sql(owner: str, app: str, database: str) -> str:
    """Create the two roles if missing and give the owner the schema and every table in it.

    Run as a superuser (or a role with CREATEROLE that is a member of the owner). Idempotent.
    Passwords are not set here: `ALTER ROLE ... PASSWORD` them from psql (`\\password`).
    """
    return f"""
DO $roles$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{owner}') THEN
        CREATE ROLE {owner} LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{app}') THEN
        CREATE ROLE {app} LOGIN;
    END IF;
END $roles$;
ALTER ROLE {app} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC;
GRANT CONNECT ON DATABASE "{database}" TO {app};
GRANT CONNECT, CREATE ON DATABASE "{database}" TO {owner};
ALTER SCHEMA public OWNER TO {owner};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $owner$ DECLARE r record; BEGIN
    -- Tables, views and the guard functions made before the owner existed pass to it
    -- (identity sequences follow their table).
    FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
               AND c.relowner <> '{owner}'::regrole LOOP
        EXECUTE format('ALTER %s %s OWNER TO {owner}',
                       CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.name);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS name FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> '{owner}'::regrole LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO {owner}', r.name);
    END LOOP;
END $owner$;
"""


def grants_sql(owner: str, app: str) -> str:
    """What the application role may do: read and append everywhere, change only non-ledger rows.

    SELECT and INSERT on every table; UPDATE and DELETE except on the ledger (LEDGER_TABLES:
    neither; NEVER_DELETED_TABLES: UPDATE only); TRUNCATE nowhere; sequences usable. Default
    privileges give tables made by later migrations the same, and running this again after
    each migrate withholds UPDATE/DELETE on new ledger tables too. Idempotent.
    """
    ledger = ", ".join(f"'{table}'" for table in LEDGER_TABLES)
    never_deleted = ", ".join(f"'{table}'" for table in NEVER_DELETED_TABLES)
    return f"""
GRANT USAGE ON SCHEMA public TO {app};
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app};
DO $ledger$ DECLARE t text; BEGIN
    FOREACH t IN ARRAY ARRAY[{ledger}]::text[] LOOP
        IF pg_catalog.to_regclass(t) IS NOT NULL THEN
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM {app}', t);
        END IF;
    END LOOP;
    FOREACH t IN ARRAY ARRAY[{never_deleted}]::text[] LOOP
        IF pg_catalog.to_regclass(t) IS NOT NULL THEN
            EXECUTE format('REVOKE DELETE, TRUNCATE ON %I FROM {app}', t);
        END IF;
    END LOOP;
END $ledger$;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app};
"""
