-- 待验收与逾期: the day (China time) the owner reported a hazard rectified, while it waits for
-- acceptance. Reported on or before its deadline, a hazard awaiting acceptance is not 逾期. Rows
-- projected before this version take the day of the last `rectified` event of their stored body (the
-- one that put them in 待验收); a row's next change projects it again from its document.
ALTER TABLE hazards ADD COLUMN rectified_on TEXT;
UPDATE hazards SET rectified_on = (
    SELECT to_char((e.value ->> 'at')::timestamptz AT TIME ZONE INTERVAL '+08:00', 'YYYY-MM-DD')
    FROM jsonb_array_elements((hazards.body::jsonb) -> 'events') WITH ORDINALITY AS e(value, n)
    WHERE e.value ->> 'kind' = 'rectified'
    ORDER BY e.n DESC
    LIMIT 1
) WHERE status = 'pending_acceptance';
