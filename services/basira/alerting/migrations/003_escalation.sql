-- Escalation delivers: the receiving agency gets its own copy of the alert, which names where it came from.

ALTER TABLE alerting_alerts ADD COLUMN IF NOT EXISTS escalated_from text NOT NULL DEFAULT '';
ALTER TABLE alerting_alerts ADD COLUMN IF NOT EXISTS escalated_alert_id text NOT NULL DEFAULT '';
