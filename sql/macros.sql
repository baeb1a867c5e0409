{#- Formulas that several views share, each written once. A view file imports what it uses:

        {% from "macros.sql" import wilson_low, wilson_high %}

    and asaas/views.py expands the macros (Jinja) when it installs the views, so the database
    holds plain SQL. Both engines run the expansion: keep it to SQL that DuckDB and PostgreSQL
    both accept. Pass column names as arguments (they are pasted in as text). -#}

{#- z of a two-sided 95% interval (the 97.5% point of the standard normal), and its square. -#}
{% set z95 = "1.959963984540054" %}
{% set z95_squared = "3.841458820694124" %}

{#- The Wilson score interval of a share ``p`` of ``n`` trials (``n`` a double), as statsmodels'
    proportion_confint(method="wilson") computes it: NULL when n is 0, clipped to [0, 1] (at a
    share of 0 or 1 rounding can push a bound a hair outside). -#}
{% macro _wilson(p, n, sign, bound) -%}
CASE WHEN {{ n }} > 0 THEN {{ bound }},
        ({{ p }} + {{ z95_squared }} / (2 * {{ n }})) / (1 + {{ z95_squared }} / {{ n }})
        {{ sign }} SQRT({{ p }} * (1 - {{ p }}) / {{ n }} + {{ z95_squared }} / (4 * {{ n }} * {{ n }}))
          * {{ z95 }} / (1 + {{ z95_squared }} / {{ n }})) END
{%- endmacro %}
{% macro wilson_low(p, n) %}{{ _wilson(p, n, "-", "GREATEST(0.0") }}{% endmacro %}
{% macro wilson_high(p, n) %}{{ _wilson(p, n, "+", "LEAST(1.0") }}{% endmacro %}

{#- A normal (Wald) 95% interval, ``estimate`` +- z ``se``, clipped to [0, 1]; NULL with the
    estimate (GREATEST and LEAST skip NULLs: without the CASE a missing estimate would get a
    bound of 0 or 1). -#}
{% macro _wald(estimate, se, sign, bound) -%}
CASE WHEN {{ estimate }} IS NOT NULL THEN {{ bound }}, {{ estimate }} {{ sign }} {{ z95 }} * {{ se }}) END
{%- endmacro %}
{% macro wald_low(estimate, se) %}{{ _wald(estimate, se, "-", "GREATEST(0.0") }}{% endmacro %}
{% macro wald_high(estimate, se) %}{{ _wald(estimate, se, "+", "LEAST(1.0") }}{% endmacro %}
