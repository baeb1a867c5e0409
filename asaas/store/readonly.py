"""What `asaas sql` accepts: one read-only statement made only of parts known to be harmless.

This is the first of two layers; the second is the session the statement runs in
(``asaas.store.sandbox``), which holds without it.

The statement is parsed (sqlglot, in the database's dialect) and every part of it must be on an
allow-list: one SELECT / WITH ... SELECT / VALUES / set operation, EXPLAIN without ANALYZE,
DESCRIBE, SHOW or (DuckDB) SUMMARIZE, built from known constructs (joins, subqueries, CTEs,
CASE, window clauses, comparisons, arithmetic...), casts to plain types, and calls of functions
known to be harmless on that engine (aggregates, window, string, date, math, JSON). A function
is checked by the name *as written in the text*, the name the database resolves, not by what
the parser made of it: a quoted or escaped name (PostgreSQL's ``U&"pg\\005fread_file"(...)``,
``"lower"(...)``), a schema-qualified call, attribute notation (``('/etc/passwd').pg_read_file``)
or a name not on the list is refused, and so is any ``name(`` in the text that the parser did
not turn into a checked call. Whatever the parser does not fully understand (a statement it
keeps as an unparsed command, an unknown construct, a parse error, too deep a nesting) is
refused with a one-line error naming it.

Not checked here, because it cannot call anything harmful: which tables and columns exist
(the database answers), and PostgreSQL's ``t.f`` notation, which calls ``f(t)`` only for
functions whose one argument is a whole row (``to_json``...).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from asaas.errors import AsaasError


class ReadOnlyViolation(AsaasError):
    """SQL text that is not exactly one read-only statement made of allowed parts."""


ALLOWED = "SELECT, WITH ... SELECT, VALUES, EXPLAIN, DESCRIBE, SHOW or SUMMARIZE"

# -- functions known to be harmless ------------------------------------------------------------
# Pure functions of their arguments: no files, no other servers, no settings, no SQL given as
# text, no locks, no other sessions, no sequences. Names as the database resolves them (unquoted
# names are case-insensitive on both engines).

_COMMON = """
    count sum avg min max stddev stddev_pop stddev_samp variance var_pop var_samp
    bool_and bool_or every string_agg array_agg corr covar_pop covar_samp regr_slope
    regr_intercept regr_r2 regr_count regr_avgx regr_avgy regr_sxx regr_syy regr_sxy
    percentile_cont percentile_disc mode bit_and bit_or
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value
    abs ceil ceiling floor round trunc sign sqrt cbrt exp ln log log10 power pow mod
    greatest least pi degrees radians sin cos tan asin acos atan atan2 cot gcd lcm isnan
    isinf factorial width_bucket
    length char_length character_length octet_length bit_length lower upper initcap trim ltrim
    rtrim substr substring left right lpad rpad replace reverse repeat position strpos
    split_part concat concat_ws regexp_replace regexp_matches md5 translate ascii chr
    starts_with string_to_array array_to_string
    now current_date current_timestamp date_trunc date_part extract age make_date
    make_timestamp to_timestamp to_char to_date
    coalesce nullif cast
    generate_series unnest array_length cardinality to_json
"""

_POSTGRESQL = """
    div scale trim_scale min_scale numeric_inc float8 btrim regexp_match regexp_split_to_array
    regexp_split_to_table regexp_count regexp_substr regexp_instr regexp_like format sha224
    sha256 sha384 sha512 encode decode overlay normalize to_hex to_number quote_ident
    quote_literal quote_nullable
    clock_timestamp statement_timestamp transaction_timestamp localtimestamp localtime timezone
    make_interval make_time make_timestamptz justify_days justify_hours justify_interval
    date_bin isfinite
    json_agg jsonb_agg json_object_agg jsonb_object_agg json_build_object jsonb_build_object
    json_build_array jsonb_build_array to_jsonb row_to_json array_to_json json_array_length
    jsonb_array_length json_extract_path json_extract_path_text jsonb_extract_path
    jsonb_extract_path_text json_array_elements jsonb_array_elements json_array_elements_text
    jsonb_array_elements_text json_each jsonb_each json_each_text jsonb_each_text
    json_object_keys jsonb_object_keys json_typeof jsonb_typeof jsonb_pretty
    array_position array_positions array_remove array_replace array_cat array_append
    array_prepend array_dims array_lower array_upper array_ndims
    num_nulls num_nonnulls
"""

_DUCKDB = """
    mean median quantile quantile_cont quantile_disc approx_quantile approx_count_distinct
    count_star count_if countif arg_max arg_min argmax argmin max_by min_by first last any_value
    list histogram entropy kurtosis skewness product fsum favg sumkahan kahan_sum geomean
    geometric_mean group_concat listagg string_split str_split string_split_regex
    regexp_extract regexp_extract_all regexp_full_match regexp_split_to_array contains
    ends_with suffix prefix instr strlen len ucase lcase strip_accents format printf sha1 sha256
    hash levenshtein damerau_levenshtein hamming jaccard jaro_similarity
    jaro_winkler_similarity mismatches array_slice list_slice list_value list_contains
    list_has array_contains list_position list_sort list_reverse_sort list_distinct
    list_unique list_concat array_concat list_extract list_element array_extract
    array_to_string list_aggregate list_sum list_min list_max list_avg
    flatten epoch epoch_ms epoch_us epoch_ns strftime strptime try_strptime today
    get_current_timestamp get_current_time date_diff datediff date_sub datesub date_add
    datepart datetrunc time_bucket dayname monthname year month day hour minute second
    millisecond microsecond week weekofyear weekday dayofweek dayofmonth dayofyear isodow
    isoyear yearweek quarter decade century millennium era last_day make_time
    to_days to_hours to_minutes to_seconds to_milliseconds to_years to_months to_weeks
    try_cast ifnull if iif nullif typeof even bit_count xor
    json_extract json_extract_string json_extract_path json_extract_path_text json_value
    json_array_length json_keys json_valid json_type json_object json_array json_quote
    json_group_array json_group_object json_group_structure json_structure json_contains
    to_json range
"""

FUNCTIONS: dict[str, frozenset[str]] = {
    "postgresql": frozenset((_COMMON + _POSTGRESQL).split()),
    "duckdb": frozenset((_COMMON + _DUCKDB).split()),
}

# -- constructs ---------------------------------------------------------------------------------
#: Parts of a statement that read (sqlglot class names; a name a sqlglot version lacks is
#: skipped). Anything else in the tree is refused.
_CONSTRUCTS = """
    Select Union Intersect Except Subquery CTE With From Join Where Group Having Order Ordered
    Limit Offset Fetch Distinct Qualify Window WindowSpec Column Identifier Star Literal Null
    Boolean Alias TableAlias Table Tuple Paren Values Var Interval IntervalSpan DataType
    DataTypeParam Bracket Case If Exists In Between Is Not Neg And Or Xor EQ NEQ GT GTE LT LTE
    NullSafeEQ NullSafeNEQ Like ILike SimilarTo Add Sub Mul Div IntDiv Mod Pow DPipe Any All
    Filter WithinGroup RespectNulls IgnoreNulls Describe Show Summarize Unnest Lateral Slice
    JSONPath JSONPathRoot JSONPathKey JSONPathSubscript JSONPathWildcard PropertyEQ Escape
    AtTimeZone TableSample RawString National HexString ByteString UnicodeString Cube Rollup
    GroupingSets BitwiseAnd BitwiseOr BitwiseXor BitwiseNot BitwiseLeftShift
    BitwiseRightShift RegexpLike RegexpILike ArrayContainsAll ArrayOverlaps Overlaps
    Semicolon
"""

#: Functions written with their own syntax rather than ``name(args)`` (``CAST(x AS t)``,
#: ``x::t``, ``EXTRACT(year FROM d)``, ``a ->> 'k'``, ``CURRENT_DATE``, ``[1, 2]``): the parser
#: records no name for them, so their kind is what is allowed.
_SYNTAX_FUNCTIONS = """
    Cast TryCast Extract Trim Substring StrPosition CurrentDate CurrentTimestamp CurrentTime
    JSONExtract JSONExtractScalar JSONBExtract JSONBExtractScalar ArrayContains Ceil Floor Chr
    Initcap ArgMax ArgMin GroupConcat Max Min Quantile ApproxQuantile PercentileCont
    PercentileDisc Median Overlay Normalize Array Struct Count Sum Avg Coalesce
"""

#: Types a value may be cast to: numbers, text, booleans, dates and times, intervals, JSON,
#: UUIDs, bytes and arrays of those. Not regclass/regproc (names of objects), xml, or user types.
_CAST_TYPES = """
    BIGINT INT SMALLINT TINYINT UBIGINT UINT USMALLINT UTINYINT HUGEINT UHUGEINT INT128 UINT128
    DECIMAL BIGDECIMAL DOUBLE FLOAT MONEY TEXT VARCHAR NVARCHAR CHAR NCHAR NAME BOOLEAN BIT
    DATE DATE32 TIME TIMETZ TIMESTAMP TIMESTAMPTZ TIMESTAMPLTZ TIMESTAMPNTZ TIMESTAMP_S
    TIMESTAMP_MS TIMESTAMP_NS INTERVAL UUID JSON JSONB BINARY VARBINARY BLOB ARRAY LIST
"""

#: Statements kept as unparsed commands that asaas checks itself.
_QUOTED_PATH = re.compile(r"[/\\.:~]")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SHOW_POSTGRES = re.compile(r"\s*(ALL|[A-Za-z_][A-Za-z0-9_.]*)\s*\Z", re.IGNORECASE)
_SHOW_DUCKDB = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*\Z")

#: Keywords that may stand right before "(" without being a checked call (sqlglot tokenizes
#: some, such as WITHIN GROUP, as plain words).
_KEYWORDS_BEFORE_PAREN = frozenset("""
    IN VALUES AS OVER FILTER EXISTS ANY ALL SOME FROM JOIN ON USING WHERE AND OR NOT THEN ELSE
    WHEN LIKE ILIKE BETWEEN UNION INTERSECT EXCEPT WITH SELECT ROW ARRAY INTERVAL CASE BY
    DISTINCT LATERAL UNNEST CUBE ROLLUP SETS HAVING QUALIFY WITHIN GROUP LIMIT OFFSET IS
    MATERIALIZED RECURSIVE TABLESAMPLE SAMPLE REPEATABLE EXPLAIN DESCRIBE SUMMARIZE ORDER
    PARTITION RANGE ROWS GROUPS PRECEDING FOLLOWING CURRENT ESCAPE SIMILAR TO DECIMAL NUMERIC
    VARCHAR CHAR CHARACTER VARYING TIMESTAMP TIME DATE BIT FLOAT STRUCT MAP LIST
    CAST TRY_CAST EXTRACT TRIM SUBSTRING POSITION OVERLAY NORMALIZE EXCLUDE RENAME
""".split())


def _sqlglot() -> tuple[Any, Any]:
    import sqlglot
    from sqlglot import exp

    # sqlglot logs a warning for every statement it keeps as an unparsed Command (EXPLAIN);
    # asaas decides about those itself.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return sqlglot, exp


def _classes(names: str) -> frozenset[type]:
    _, exp = _sqlglot()
    return frozenset(getattr(exp, n) for n in names.split() if hasattr(exp, n))


def _dialect(name: str) -> str:
    return {"postgresql": "postgres"}.get(name, name)


def _engine_label(dialect: str) -> str:
    return {"postgresql": "PostgreSQL", "duckdb": "DuckDB"}.get(dialect, dialect)


def check_read_only(sql: str, dialect: str) -> str:
    """Return the statement (without a trailing semicolon) or raise ReadOnlyViolation."""
    sqlglot, _ = _sqlglot()
    text = sql.strip()
    if not text.rstrip(";").strip():
        raise ReadOnlyViolation("no SQL given: pass one query, e.g. "
                                "\"SELECT model, accuracy FROM latest_metrics\"")
    if "\x00" in text:
        raise ReadOnlyViolation("the query holds a NUL character; remove it")
    try:
        statements = [s for s in sqlglot.parse(text, read=_dialect(dialect)) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReadOnlyViolation(f"SQL error: cannot parse the query ({first}); asaas sql runs "
                                f"one read-only {ALLOWED} statement") from None
    except RecursionError:
        raise ReadOnlyViolation("the query is nested too deeply to check (thousands of "
                                "parentheses?); simplify it") from None
    except Exception as exc:  # noqa: BLE001 - a parser bug is a refusal, never a traceback
        raise ReadOnlyViolation(f"asaas sql cannot check this query (the SQL parser failed: "
                                f"{type(exc).__name__}); rewrite it as one plain {ALLOWED} "
                                "statement") from None
    if len(statements) != 1:
        raise ReadOnlyViolation(f"asaas sql runs exactly one read-only statement, got "
                                f"{len(statements)}; run them one at a time")
    try:
        _check_statement(statements[0], text, dialect)
    except RecursionError:
        raise ReadOnlyViolation("the query is nested too deeply to check; simplify it") from None
    except ReadOnlyViolation:
        raise
    except Exception as exc:  # noqa: BLE001 - a tree this module does not expect is refused
        raise ReadOnlyViolation(f"asaas sql cannot check this query ({type(exc).__name__} on "
                                f"its syntax tree); rewrite it as one plain {ALLOWED} "
                                "statement") from None
    return text.rstrip().rstrip(";").rstrip()


def _check_statement(stmt: Any, text: str, dialect: str) -> None:
    _, exp = _sqlglot()
    if isinstance(stmt, exp.Command):
        _check_command(stmt, dialect)
        return
    allowed = (exp.Query, exp.Values, exp.Describe, exp.Show, exp.Summarize)
    if not isinstance(stmt, allowed):
        raise ReadOnlyViolation(f"asaas sql is read-only: {_kind(stmt)} is not allowed; use "
                                f"{ALLOWED}")
    _check_tree(stmt, text, dialect)


def _kind(node: Any) -> str:
    """The statement's leading keyword, for messages (DELETE, SET, COMMIT, COPY...)."""
    try:
        words = node.sql().split()
    except Exception:  # noqa: BLE001 - only for a message
        words = []
    return (words[0].upper() if words else type(node).__name__.upper())


def _check_command(stmt: Any, dialect: str) -> None:
    """sqlglot keeps EXPLAIN (and SHOW, mostly) as unparsed commands: check them here."""
    keyword = str(stmt.this).upper()
    expression = stmt.expression
    if expression is None:
        rest = ""
    elif isinstance(expression, str):
        rest = expression
    else:
        rest = str(getattr(expression, "this", None) or expression.name or "")
    if keyword == "SHOW":
        pattern = _SHOW_POSTGRES if dialect == "postgresql" else _SHOW_DUCKDB
        if not pattern.match(rest):
            raise ReadOnlyViolation(
                "asaas sql runs SHOW with one setting or table name only (SHOW work_mem, SHOW "
                "reviews); for a query's columns use DESCRIBE SELECT ...")
        return
    if keyword != "EXPLAIN":
        raise ReadOnlyViolation(f"asaas sql is read-only: {keyword} is not allowed; use "
                                f"{ALLOWED}")
    words = rest.split()
    if rest.lstrip().startswith("(") or (words and words[0].upper() in ("ANALYZE", "ANALYSE")):
        raise ReadOnlyViolation("asaas sql is read-only: EXPLAIN ANALYZE runs the statement and "
                                "EXPLAIN options are not allowed; use plain EXPLAIN")
    if words and words[0].upper() == "VERBOSE":
        rest = rest.lstrip()[len("VERBOSE"):]
    inner = check_read_only(rest, dialect)
    if inner.upper().startswith(("EXPLAIN", "SHOW", "DESCRIBE", "SUMMARIZE")):
        raise ReadOnlyViolation("asaas sql: EXPLAIN takes a query (EXPLAIN SELECT ...)")


def _where(text: str, start: int) -> str:
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return f"line {line}, column {col}"


def _snippet(node: Any, dialect: str) -> str:
    try:
        sql = node.sql(dialect=_dialect(dialect))
    except Exception:  # noqa: BLE001 - only for a message
        sql = type(node).__name__
    sql = " ".join(sql.split())
    return sql if len(sql) <= 60 else sql[:57] + "..."


def _check_tree(stmt: Any, text: str, dialect: str) -> None:
    _, exp = _sqlglot()
    constructs = _classes(_CONSTRUCTS)
    syntax_functions = _classes(_SYNTAX_FUNCTIONS)
    functions = FUNCTIONS.get(dialect, frozenset(_COMMON.split()))
    engine = _engine_label(dialect)
    changing = (exp.DML, exp.DDL, exp.Command, exp.Set, exp.Copy, exp.Transaction, exp.Commit,
                exp.Rollback, exp.Pragma, exp.Into, exp.Lock)
    calls: set[int] = set()     # where each checked function name starts in the text
    names: set[int] = set()     # where alias names start (``t(a, b)``, ``WITH x(a) AS``)
    for node in stmt.walk():
        if isinstance(node, changing):
            raise ReadOnlyViolation(f"asaas sql is read-only: {_kind(node)} inside the query is "
                                    f"not allowed (no data-changing parts, SELECT ... INTO or "
                                    f"FOR UPDATE); use {ALLOWED}")
        if isinstance(node, (exp.Placeholder, exp.Parameter)):
            raise ReadOnlyViolation("asaas sql takes no parameters (:name, ?, $1); write the "
                                    "values into the query (quote text as 'text')")
        if isinstance(node, exp.Dot):
            raise ReadOnlyViolation(
                f"asaas sql refuses {_snippet(node, dialect)}: a schema-qualified function or "
                "(value).name notation can call any function; call allowed functions by their "
                "plain name")
        if isinstance(node, exp.Func) and "start" in node.meta:
            start, end = node.meta["start"], node.meta["end"]
            written = text[start:end + 1]
            if not _PLAIN_NAME.match(written):
                raise ReadOnlyViolation(
                    f"asaas sql refuses the function name {written} at {_where(text, start)}: "
                    "a quoted or escaped name (\"...\", U&\"...\") can stand for any function; "
                    "write function names unquoted")
            if written.lower() not in functions:
                raise ReadOnlyViolation(
                    f"asaas sql refuses {written}(): not one of the functions known to be "
                    f"harmless on {engine} (aggregate, window, string, date, math, JSON); "
                    "query the tables and views with those")
            calls.add(start)
            continue
        if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous) \
                and type(node) in syntax_functions:
            if isinstance(node, (exp.Cast, exp.TryCast)):
                _check_cast(node, dialect)
            continue
        if type(node) not in constructs:
            raise ReadOnlyViolation(
                f"asaas sql refuses {_snippet(node, dialect)} ({type(node).__name__}): not a "
                "construct it knows to be read-only; use plain SELECT over the tables and views")
        if isinstance(node, exp.Table):
            target = node.this
            if isinstance(target, exp.Literal) or (
                    isinstance(target, exp.Identifier) and target.quoted
                    and _QUOTED_PATH.search(target.name)):
                raise ReadOnlyViolation(f"asaas sql reads the database's tables and views, not "
                                        f"files: {target.name!r} is not allowed")
        if isinstance(node, exp.Identifier) and isinstance(node.parent, (exp.TableAlias,
                                                                          exp.CTE)):
            if "start" in node.meta:
                names.add(node.meta["start"])
        if isinstance(node, exp.TableAlias):
            ident = node.args.get("this")
            if isinstance(ident, exp.Identifier) and "start" in ident.meta:
                names.add(ident.meta["start"])
    _check_calls_in_text(text, dialect, calls | names)


def _check_cast(node: Any, dialect: str) -> None:
    _, exp = _sqlglot()
    allowed = set(_CAST_TYPES.split())
    target = node.args.get("to")
    todo = [target]
    while todo:
        kind = todo.pop()
        name = getattr(getattr(kind, "this", None), "name", None)
        if type(kind) is not exp.DataType or name not in allowed:
            shown = _snippet(kind, dialect) if kind is not None else "?"
            raise ReadOnlyViolation(
                f"asaas sql refuses the cast to {shown}: only plain types (numbers, text, "
                "booleans, dates, times, intervals, JSON, arrays of those) are allowed")
        todo.extend(e for e in kind.expressions if isinstance(e, exp.DataType))
        if name in ("ARRAY", "LIST") and not any(
                isinstance(e, exp.DataType) for e in kind.expressions):
            raise ReadOnlyViolation("asaas sql refuses a cast to an array of unknown type; name "
                                    "the element type (INTEGER[])")


def _check_calls_in_text(text: str, dialect: str, approved: set[int]) -> None:
    """Every ``name(`` in the text must be a call checked above, an alias with a column list,
    or a keyword: a call the parser swallowed into something else (an unparsed argument, an
    option) would otherwise reach the database unchecked."""
    from sqlglot.dialects import Dialect
    from sqlglot.tokens import TokenType

    functions = FUNCTIONS.get(dialect, frozenset(_COMMON.split()))
    tokens = Dialect.get_or_raise(_dialect(dialect)).tokenize(text)
    for token, following in zip(tokens, tokens[1:]):
        if following.token_type != TokenType.L_PAREN or token.start in approved:
            continue
        written = text[token.start:token.end + 1]
        if _PLAIN_NAME.match(written):
            # An allowed function, or a keyword (``IN (``, ``WITHIN GROUP (``, ``CAST(``): none of
            # these words names a function that could do harm on either engine.
            if written.lower() in functions or written.upper() in _KEYWORDS_BEFORE_PAREN:
                continue
        elif token.token_type != TokenType.IDENTIFIER:
            continue  # punctuation, an operator, a literal
        raise ReadOnlyViolation(
            f"asaas sql refuses {written}( at {_where(text, token.start)}: a call the SQL "
            "parser did not recognise as one of the allowed functions")
