-- Reviews on which two model versions predict different labels, in both orders (filter on
-- model_a / model_b). Unlabelled reviews are included: right_model is NULL for them.
CREATE OR REPLACE VIEW disagreements AS
SELECT
    r.id AS review_id, r.dataset, r.split,
    pa.model_version_id AS model_version_id_a, pb.model_version_id AS model_version_id_b,
    na.model AS model_a, na.version AS version_a, na.model_label AS model_label_a,
    nb.model AS model_b, nb.version AS version_b, nb.model_label AS model_label_b,
    na.is_latest AND nb.is_latest AS both_latest,
    -- IMDB texts are full of <br /> tags: show a readable line instead.
    SUBSTR(REPLACE(REPLACE(REPLACE(SUBSTR(r.text, 1, 400), '<br /><br />', ' '), '<br />', ' '),
                   '<br/>', ' '), 1, 160) AS snippet,
    r.label AS y_true,
    pa.label AS label_a, pa.prob_positive AS score_a,
    pb.label AS label_b, pb.prob_positive AS score_b,
    CASE WHEN r.label IS NULL THEN NULL
         WHEN pa.label = r.label THEN na.model_label ELSE nb.model_label END AS right_model
FROM predictions pa
JOIN predictions pb ON pb.review_id = pa.review_id
                   AND pb.model_version_id <> pa.model_version_id
                   AND pb.label <> pa.label
JOIN reviews r ON r.id = pa.review_id
JOIN model_version_names na ON na.model_version_id = pa.model_version_id
JOIN model_version_names nb ON nb.model_version_id = pb.model_version_id;
