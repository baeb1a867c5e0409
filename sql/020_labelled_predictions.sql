-- One row per prediction of a labelled review: the base of every metric view. language is the
-- review's (NULL where the source records none).
-- length_bucket is by characters of the review, so a review sits in the same bucket for every
-- model (token counts depend on the tokenizer, and scikit-learn models have none).
CREATE OR REPLACE VIEW labelled_predictions AS
SELECT
    p.review_id,
    r.dataset,
    r.split,
    n.model,
    n.version,
    n.model_version_id,
    n.model_label,
    n.is_latest,
    r.label AS y_true,
    p.label AS y_pred,
    p.prob_positive AS score,
    p.n_tokens,
    p.truncated,
    CASE
        WHEN LENGTH(r.text) < 500 THEN '0000-0499 chars'
        WHEN LENGTH(r.text) < 1000 THEN '0500-0999 chars'
        WHEN LENGTH(r.text) < 2000 THEN '1000-1999 chars'
        WHEN LENGTH(r.text) < 4000 THEN '2000-3999 chars'
        ELSE '4000+ chars'
    END AS length_bucket,
    r.language
FROM predictions p
JOIN reviews r ON r.id = p.review_id
JOIN model_version_names n ON n.model_version_id = p.model_version_id
WHERE r.label IS NOT NULL;
