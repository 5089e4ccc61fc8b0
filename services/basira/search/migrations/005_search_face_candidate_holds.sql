-- Holds of open face candidates (issue 8): a face matched to a watchlist is kept from the short purge
-- of unmatched faces while its candidate alert awaits two confirmations, so a match confirmed after
-- that purge ran still has its evidence. A rejection releases the hold (the face is unmatched again).
-- `decided` false: an open candidate (no `confirmed` time yet); true: a confirmed match.
ALTER TABLE search_face_holds ADD COLUMN decided boolean NOT NULL DEFAULT true;
ALTER TABLE search_face_holds ALTER COLUMN confirmed DROP NOT NULL;
