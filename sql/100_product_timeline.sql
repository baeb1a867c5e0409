-- Review volume and the observed negative share (from the reviews' own labels, e.g. Steam's
-- recommend flag) per product, period and language, without any model.
--   freq          'day' | 'week' | 'month'; period_start is date_trunc of reviewed_at (naive UTC),
--                 so weeks start on Monday in DuckDB and PostgreSQL alike
--   language      'all' (every review) or one language as the source names it ('english'...);
--                 reviews without a language count only under 'all'
--   observed_*    share of labelled reviews that are negative, with a 95% Wilson interval; NULL
--                 when the period has no labelled review
-- Filter on product_id, freq and language: both engines push those filters into each branch of
-- the UNION ALLs, so one product's series reads only that product's reviews.
{% from "macros.sql" import wilson_high, wilson_low %}
CREATE OR REPLACE VIEW product_timeline AS
WITH reviewed AS (
    SELECT product_id, dataset, 'all' AS language, reviewed_at, label
    FROM reviews WHERE product_id IS NOT NULL AND reviewed_at IS NOT NULL
    UNION ALL
    SELECT product_id, dataset, language, reviewed_at, label
    FROM reviews WHERE product_id IS NOT NULL AND reviewed_at IS NOT NULL AND language IS NOT NULL
),
periods AS (
    SELECT product_id, dataset, language, 'day' AS freq,
           CAST(date_trunc('day', reviewed_at) AS DATE) AS period_start, label FROM reviewed
    UNION ALL
    SELECT product_id, dataset, language, 'week' AS freq,
           CAST(date_trunc('week', reviewed_at) AS DATE) AS period_start, label FROM reviewed
    UNION ALL
    SELECT product_id, dataset, language, 'month' AS freq,
           CAST(date_trunc('month', reviewed_at) AS DATE) AS period_start, label FROM reviewed
),
counts AS (
    SELECT product_id, dataset, language, freq, period_start,
           COUNT(*) AS n_reviews,
           COUNT(label) AS n_labelled,
           SUM(CASE WHEN label = 0 THEN 1 ELSE 0 END) AS n_negative
    FROM periods
    GROUP BY product_id, dataset, language, freq, period_start
),
shares AS (
    SELECT c.*, c.n_labelled * 1.0 AS nf,
           CASE WHEN c.n_labelled > 0 THEN c.n_negative * 1.0 / c.n_labelled END AS share
    FROM counts c
)
SELECT
    s.product_id, p.external_id AS product, p.name AS product_name, s.dataset, s.language,
    s.freq, s.period_start, s.n_reviews, s.n_labelled, s.n_negative,
    s.share AS observed_negative_share,
    {{ wilson_low("s.share", "s.nf") }} AS observed_ci_low,
    {{ wilson_high("s.share", "s.nf") }} AS observed_ci_high
FROM shares s
JOIN products p ON p.id = s.product_id;
