-- Reviews and negative reviews per product and UTC day: from the reviews' own labels
-- (source 'labels', model_version_id NULL) and from every model version's predictions (source
-- 'model'). The daily series that events, effects, alerts and responsiveness are computed on.
CREATE OR REPLACE VIEW product_daily AS
SELECT r.product_id, r.dataset, 'labels' AS source, CAST(NULL AS BIGINT) AS model_version_id,
       CAST(r.reviewed_at AS DATE) AS day,
       COUNT(*) AS n_reviews,
       SUM(CASE WHEN r.label = 0 THEN 1 ELSE 0 END) AS n_negative
FROM reviews r
WHERE r.product_id IS NOT NULL AND r.reviewed_at IS NOT NULL AND r.label IS NOT NULL
GROUP BY r.product_id, r.dataset, CAST(r.reviewed_at AS DATE)
UNION ALL
SELECT r.product_id, r.dataset, 'model', p.model_version_id,
       CAST(r.reviewed_at AS DATE),
       COUNT(*),
       SUM(CASE WHEN p.label = 0 THEN 1 ELSE 0 END)
FROM predictions p
JOIN reviews r ON r.id = p.review_id
WHERE r.product_id IS NOT NULL AND r.reviewed_at IS NOT NULL
GROUP BY r.product_id, r.dataset, p.model_version_id, CAST(r.reviewed_at AS DATE);
