"""Customer search that ignores accents and apostrophe variants and also finds references,
phone numbers and email addresses (issue 8), served by one GIN index.

`O’Brien` (curly apostrophe) found nothing where `O'Brien` found 134, `Zoe` missed `Zoë`,
and a reference, phone number or email found nothing. The embedded PostgreSQL ships
neither unaccent nor pg_trgm, so this uses only what every PostgreSQL has:

- settle_fold(text): IMMUTABLE; Latin letters lose their accents (both cases, so it does
  not depend on the database's ctype), ß æ œ þ become ss ae oe th, every apostrophe
  (’ ‘ ʼ ` ´ ′) becomes ', and @ and . separate words (so an email's parts are words);
  then lower().
- settle_digits(text): the digits only (a phone number however it was typed).
- settle_customer_document(name, email, phone, reference): the customer's search words
  as a tsvector ('simple' configuration: no stemming, no stop words), with the phone's
  digits forwards and backwards (a backwards prefix is a match on the number's end).
- settle_customer_query(text): every word of what the clerk typed as a prefix, all
  required; if it looks like a phone number, or its digits match a phone's start or end.
- customer_search_idx: GIN over the document; billing.search filters with
  document @@ query, which this index serves (tests/web/test_clerk_flows.py checks
  the plan).
"""

from django.db import migrations

FOLD_FROM = 'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝàáâãäåçèéêëìíîïðñòóôõöøùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľĿŀŁłŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƀƒƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ’‘ʼʹ`´′@.'
FOLD_TO = "aaaaaaceeeeiiiidnoooooouuuuyaaaaaaceeeeiiiidnoooooouuuuyyaaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiijjkkllllllllllnnnnnnoooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzsbfoouuaaiioouuuuuuuuuuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusstthhaaeeooooooooyy'''''''  "

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION settle_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN lower(
    replace(replace(replace(replace(replace(replace(replace(replace(
        translate(coalesce(value, ''), '{FOLD_FROM.replace("'", "''")}', '{FOLD_TO.replace("'", "''")}'),
    'ß', 'ss'), 'ẞ', 'ss'), 'æ', 'ae'), 'Æ', 'ae'), 'œ', 'oe'), 'Œ', 'oe'), 'þ', 'th'), 'Þ', 'th'));

CREATE OR REPLACE FUNCTION settle_digits(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN regexp_replace(coalesce(value, ''), '[^0-9]', '', 'g');

CREATE OR REPLACE FUNCTION settle_customer_document(name text, email text, phone text, reference text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN to_tsvector('simple'::regconfig,
    settle_fold(name) || ' ' || settle_fold(email) || ' ' || settle_fold(reference) || ' '
    || settle_digits(phone) || ' ' || reverse(settle_digits(phone)));

CREATE OR REPLACE FUNCTION settle_customer_query(typed text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN (
    SELECT CASE
        WHEN words IS NULL THEN NULL
        WHEN length(settle_digits(typed)) >= 4 AND typed ~ '^[0-9 +()./-]+$'
            THEN words || to_tsquery('simple'::regconfig,
                settle_digits(typed) || ':* | ' || reverse(settle_digits(typed)) || ':*')
        ELSE words END
    FROM (SELECT to_tsquery('simple'::regconfig, string_agg(
                '''' || replace(replace(lexeme, '\\', '\\\\'), '''', '''''') || ''':*', ' & ')) AS words
          FROM unnest(to_tsvector('simple'::regconfig, settle_fold(typed)))) AS q);
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS settle_customer_query(text);
DROP FUNCTION IF EXISTS settle_customer_document(text, text, text, text);
DROP FUNCTION IF EXISTS settle_digits(text);
DROP FUNCTION IF EXISTS settle_fold(text);
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_db_guards")]

    operations = [
        migrations.RunSQL(FUNCTIONS, reverse_sql=DROP_FUNCTIONS),
        migrations.RunSQL(
            "CREATE INDEX customer_search_idx ON billing_customer"
            " USING gin (settle_customer_document(name, email, phone, reference))",
            reverse_sql="DROP INDEX IF EXISTS customer_search_idx",
        ),
    ]
