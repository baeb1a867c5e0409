-- Did answering help? Per review of a product: its recommendation when first seen, when the
-- developer first answered it, and when (if ever) its author turned it from negative to
-- positive, from the copies ingest has seen (review_history keeps each change: issue 19).
--
-- first_label: the label of the first copy (the old value of the review's first label change;
-- without one, the label it has). answered_at: the first answer seen (an answer time already
-- there when first seen, else the first one recorded; without history, the row's). turned_at:
-- the first change of the label from 0 to 1, dated by the edit time recorded with it (Steam's
-- timestamp_updated), else by when that copy was seen (a bound).
--
-- A turn is seen only when two copies of the review were ingested: one snapshot shows none.
-- What one snapshot can show is edited_after_answer: positive now, last edited after the
-- developer's answer (it may have turned after the answer, or been positive all along).
--
-- answered_negative: negative when first seen and answered before it turned (or never turned);
-- unanswered_negative: negative when first seen and not answered while negative (never
-- answered, or answered only after it turned).
CREATE OR REPLACE VIEW review_flips AS
WITH firsts AS (
    SELECT h.review_id, h.field, h.old_value, h.new_value,
           ROW_NUMBER() OVER (PARTITION BY h.review_id, h.field ORDER BY h.id) AS nth
    FROM review_history h
    WHERE h.field IN ('label', 'developer_responded_at')
), turns AS (
    SELECT h.review_id, h.seen_at, h.ingest_run_id,
           ROW_NUMBER() OVER (PARTITION BY h.review_id ORDER BY h.id) AS nth
    FROM review_history h
    WHERE h.field = 'label' AND h.old_value = '0' AND h.new_value = '1'
), first_turn AS (
    SELECT t.review_id, COALESCE(CAST(e.new_value AS TIMESTAMP), t.seen_at) AS turned_at
    FROM turns t
    LEFT JOIN review_history e ON e.review_id = t.review_id
        AND e.ingest_run_id = t.ingest_run_id AND e.field = 'review_updated_at'
    WHERE t.nth = 1
), seen AS (
    SELECT r.id AS review_id, r.product_id, r.dataset, r.reviewed_at, r.label,
           CASE WHEN fl.review_id IS NOT NULL THEN CAST(fl.old_value AS INTEGER)
                ELSE r.label END AS first_label,
           CASE WHEN fa.review_id IS NOT NULL
                THEN CAST(COALESCE(fa.old_value, fa.new_value) AS TIMESTAMP)
                ELSE r.developer_responded_at END AS answered_at,
           ft.turned_at,
           r.label = 1 AND r.developer_responded_at IS NOT NULL
               AND r.review_updated_at > r.developer_responded_at AS edited_after_answer,
           EXISTS (SELECT 1 FROM review_history h WHERE h.review_id = r.id) AS changed
    FROM reviews r
    LEFT JOIN firsts fl ON fl.review_id = r.id AND fl.field = 'label' AND fl.nth = 1
    LEFT JOIN firsts fa ON fa.review_id = r.id AND fa.field = 'developer_responded_at'
        AND fa.nth = 1
    LEFT JOIN first_turn ft ON ft.review_id = r.id
    WHERE r.product_id IS NOT NULL
), judged AS (
    SELECT s.*,
           COALESCE(s.first_label = 0 AND s.answered_at IS NOT NULL
                    AND (s.turned_at IS NULL OR s.answered_at <= s.turned_at), FALSE)
               AS answered_negative
    FROM seen s
)
SELECT review_id, product_id, dataset, reviewed_at, first_label, label, answered_at, turned_at,
       answered_negative,
       COALESCE(first_label = 0 AND NOT answered_negative, FALSE) AS unanswered_negative,
       turned_at IS NOT NULL AS turned,
       CASE WHEN answered_at IS NOT NULL AND reviewed_at IS NOT NULL
            THEN EXTRACT(EPOCH FROM (answered_at - reviewed_at)) / 3600.0
       END AS hours_to_answer,
       COALESCE(edited_after_answer, FALSE) AS edited_after_answer, changed
FROM judged;
