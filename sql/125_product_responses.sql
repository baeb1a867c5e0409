-- Developer responses per product: how many negative reviews got one and how fast, with
-- negatives from the labels (source 'labels') or from a model version's predictions ('model').
-- Response times are hours from the review to the response (Steam records the response's
-- latest edit, so a response edited later counts as slower).
CREATE OR REPLACE VIEW product_responses AS
WITH judged AS (
    SELECT r.product_id, r.dataset, 'labels' AS source, CAST(NULL AS BIGINT) AS model_version_id,
           r.label = 0 AS negative, r.reviewed_at, r.developer_responded_at
    FROM reviews r
    WHERE r.product_id IS NOT NULL AND r.label IS NOT NULL
    UNION ALL
    SELECT r.product_id, r.dataset, 'model', p.model_version_id, p.label = 0, r.reviewed_at,
           r.developer_responded_at
    FROM predictions p
    JOIN reviews r ON r.id = p.review_id
    WHERE r.product_id IS NOT NULL
), timed AS (
    SELECT j.*,
           CASE WHEN j.developer_responded_at IS NOT NULL AND j.reviewed_at IS NOT NULL
                THEN EXTRACT(EPOCH FROM (j.developer_responded_at - j.reviewed_at)) / 3600.0
           END AS response_hours
    FROM judged j
)
SELECT product_id, dataset, source, model_version_id,
       COUNT(*) AS n_reviews,
       SUM(CASE WHEN negative THEN 1 ELSE 0 END) AS n_negative,
       SUM(CASE WHEN developer_responded_at IS NOT NULL THEN 1 ELSE 0 END) AS n_responded,
       SUM(CASE WHEN negative AND developer_responded_at IS NOT NULL THEN 1 ELSE 0 END)
           AS n_negative_responded,
       CAST(percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CASE WHEN negative THEN response_hours END) AS DOUBLE PRECISION)
           AS median_negative_response_hours,
       CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY response_hours) AS DOUBLE PRECISION)
           AS median_response_hours
FROM timed
GROUP BY product_id, dataset, source, model_version_id;
