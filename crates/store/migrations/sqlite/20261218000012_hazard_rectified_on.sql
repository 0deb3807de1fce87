-- 待验收与逾期: the day (China time) the owner reported a hazard rectified, while it waits for
-- acceptance. Reported on or before its deadline, a hazard awaiting acceptance is not 逾期. Rows
-- projected before this version take the day of the last `rectified` event of their stored body (the
-- one that put them in 待验收); a row's next change projects it again from its document.
ALTER TABLE hazards ADD COLUMN rectified_on TEXT;
UPDATE hazards SET rectified_on = (
    SELECT date(json_extract(e.value, '$.at'), '+8 hours')
    FROM json_each(hazards.body, '$.events') AS e
    WHERE json_extract(e.value, '$.kind') = 'rectified'
    ORDER BY CAST(e.key AS INTEGER) DESC
    LIMIT 1
) WHERE status = 'pending_acceptance';
