-- Did answering help, per product: of the reviews negative when first seen, how many were
-- answered while negative and how many of those their authors later turned positive, against
-- the same for the ones not answered (review_flips says what each word means, and why a turn is
-- seen only when two copies of a review were ingested); the median hours from such a review to
-- its first answer; and what one snapshot can show (positive now, edited after the answer).
-- asaas responsiveness --answers adds the difference of the two shares with its 95% interval.
CREATE OR REPLACE VIEW product_flips AS
SELECT product_id, dataset,
       SUM(CASE WHEN first_label = 0 THEN 1 ELSE 0 END) AS n_negative_first,
       SUM(CASE WHEN answered_negative THEN 1 ELSE 0 END) AS answered_negative,
       SUM(CASE WHEN answered_negative AND turned THEN 1 ELSE 0 END) AS answered_turned,
       SUM(CASE WHEN unanswered_negative THEN 1 ELSE 0 END) AS unanswered_negative,
       SUM(CASE WHEN unanswered_negative AND turned THEN 1 ELSE 0 END) AS unanswered_turned,
       CAST(percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CASE WHEN answered_negative THEN hours_to_answer END) AS DOUBLE PRECISION)
           AS median_hours_to_answer,
       SUM(CASE WHEN edited_after_answer THEN 1 ELSE 0 END) AS edited_after_answer,
       SUM(CASE WHEN changed THEN 1 ELSE 0 END) AS n_changed
FROM review_flips
GROUP BY product_id, dataset;
