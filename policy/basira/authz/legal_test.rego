# Tests of the legal safeguards: case ids, authorizations, urgent use, entries, two-person, retention.
package basira.authz

import rego.v1

without_authorization := object.union(face_search, {"context": {"authorization": null}})

urgent_face_search(declared_at) := json.remove(
	object.union(face_search, {"context": {"urgent": {"declared_at": declared_at, "reason": "child abduction"}}}),
	["context/authorization"],
)

test_deny_missing_case_id if {
	r := reasons(call(investigator, "search.plate", {"zone": "ring-road"}, {"purpose": "stolen-vehicle"}))
	"action \"search.plate\" needs context.case_id" in r
}

test_deny_watchlist_created_without_a_case if {
	r := reasons(json.remove(allowed_examples["watchlist.create"], ["context/case_id"]))
	"action \"watchlist.create\" needs context.case_id" in r
	"action \"watchlist.create\" needs context.purpose" in reasons(json.remove(allowed_examples["watchlist.create"], ["context/purpose"]))
}

test_deny_malformed_case_id if {
	r := reasons(object.union(face_search, {"context": {"case_id": "42"}}))
	"case id \"42\" does not match ^[A-Z]+-[0-9]{4}-[0-9]{3,}$" in r
}

test_deny_face_search_without_authorization if {
	r := reasons(without_authorization)
	"action \"search.face\" needs context.authorization (id, issued_by, scope, expires)" in r
}

test_allow_urgent_face_search_within_the_grace_period if {
	allow with input as urgent_face_search("2026-03-01T02:00:00Z")
}

test_deny_urgent_face_search_after_the_grace_period if {
	r := reasons(urgent_face_search("2026-02-27T09:00:00Z"))
	"urgent use declared at \"2026-02-27T09:00:00Z\" is not within the 24-hour grace period of action \"search.face\"" in r
	"action \"search.face\" needs context.authorization (id, issued_by, scope, expires)" in r
}

test_deny_urgent_use_declared_in_the_future if {
	not allow with input as urgent_face_search("2026-03-01T11:00:00Z")
}

test_allow_grace_period_is_policy_data if {
	longer := object.union(data.basira.actions, {"search.face": {"urgent_grace_hours": 72}})
	allow with input as urgent_face_search("2026-02-27T09:00:00Z") with data.basira.actions as longer
}

test_deny_urgent_live_matching if {
	live := object.union(allowed_examples["match.live_face"], {"context": {"urgent": {"declared_at": "2026-03-01T09:00:00Z"}}})
	r := reasons(json.remove(live, ["context/authorization"]))
	"urgent use declared at \"2026-03-01T09:00:00Z\" is not within the 0-hour grace period of action \"match.live_face\"" in r
}

test_deny_authorization_without_id if {
	r := reasons(json.remove(face_search, ["context/authorization/id"]))
	"context.authorization has no id" in r
}

test_deny_authorization_from_an_unrecognised_issuer if {
	r := reasons(object.union(face_search, {"context": {"authorization": {"issued_by": "mayor"}}}))
	"authorization \"AUTH-2026-17\" is issued by \"mayor\", not a recognised authority" in r
}

test_deny_authorization_without_expiry if {
	r := reasons(json.remove(face_search, ["context/authorization/expires"]))
	"authorization \"AUTH-2026-17\" has no valid expiry (\"\")" in r
}

test_deny_expired_authorization if {
	r := reasons(object.union(face_search, {"context": {"authorization": {"expires": "2026-02-01T00:00:00Z"}}}))
	"authorization \"AUTH-2026-17\" expired at \"2026-02-01T00:00:00Z\"" in r
}

test_deny_zone_outside_the_authorization if {
	r := reasons(object.union(face_search, {"resource": {"zone": "port", "cameras": []}}))
	"zone \"port\" is outside the scope of authorization \"AUTH-2026-17\"" in r
}

test_deny_camera_outside_the_authorization if {
	r := reasons(object.union(face_search, {"resource": {"zone": null, "cameras": ["cam-port-01"]}}))
	"camera \"cam-port-01\" is outside the scope of authorization \"AUTH-2026-17\"" in r
}

test_allow_camera_named_by_the_authorization if {
	allow with input as json.remove(object.union(face_search, {"resource": {"cameras": ["bwc-police-01"]}}), ["resource/zone"])
}

test_deny_entry_without_expiry if {
	r := reasons(json.remove(allowed_examples["hotlist.add_plate"], ["resource/entry_expires"]))
	"action \"hotlist.add_plate\" needs resource.entry_expires (RFC 3339), got \"\"" in r
}

test_deny_match_on_an_expired_entry if {
	r := reasons(object.union(allowed_examples["match.plate"], {"resource": {"entry_expires": "2026-02-01T00:00:00Z"}}))
	"entry expired at \"2026-02-01T00:00:00Z\"" in r
}

test_deny_entry_outliving_its_authorization if {
	r := reasons(object.union(allowed_examples["watchlist.enrol_subject"], {"resource": {"entry_expires": "2026-05-01T00:00:00Z"}}))
	"entry expiry \"2026-05-01T00:00:00Z\" is later than authorization \"AUTH-2026-17\"'s expiry \"2026-04-01T00:00:00Z\"" in r
}

test_deny_second_confirmation_by_the_same_person if {
	r := reasons(object.union(allowed_examples["alert.confirm"], {"resource": {"first_confirmed_by": "omar"}}))
	"user \"omar\" gave the first confirmation; a different person must confirm" in r
}

test_deny_purge_of_an_unknown_retention_class if {
	r := reasons(object.union(allowed_examples["retention.purge"], {"resource": {"data_class": "face_embedding"}}))
	"unknown retention class \"face_embedding\"" in r
}

test_deny_purge_without_an_upper_bound if {
	r := reasons(json.remove(allowed_examples["retention.purge"], ["resource/time_to"]))
	"action \"retention.purge\" needs resource.time_to (RFC 3339), got \"\"" in r
}

test_deny_purge_of_records_still_within_retention if {
	r := reasons(object.union(allowed_examples["retention.purge"], {"resource": {"time_to": "2026-02-20T00:00:00Z"}}))
	"purge up to \"2026-02-20T00:00:00Z\" would erase \"plate_read\" records younger than their 30-day retention" in r
}

test_allow_retention_limits_are_policy_data if {
	shorter := object.union(data.basira.retention, {"plate_read": {"days": 5}})
	purge := object.union(allowed_examples["retention.purge"], {"resource": {"time_to": "2026-02-20T00:00:00Z"}})
	allow with input as purge with data.basira.retention as shorter
}

# ---- settings privacy officers keep: a missing one refuses, on OPA as on regorus ----

test_deny_case_ids_and_issuers_when_the_settings_are_missing if {
	r := reasons(face_search) with data.basira.settings as {}
	"case id \"CASE-2026-0042\" does not match [^\\s\\S]" in r
	"authorization \"AUTH-2026-17\" is issued by \"court\", not a recognised authority" in r
}

test_deny_authorization_id_that_is_not_a_string if {
	r := reasons(object.union(face_search, {"context": {"authorization": {"id": 17}}}))
	"context.authorization has no id" in r
}

test_deny_unknown_camera_outside_the_authorization_when_its_zone_is_unknown if {
	r := reasons(call(investigator, "search.face", {"cameras": ["cam-unknown"]}, judicial))
	"camera \"cam-unknown\" is outside the scope of authorization \"AUTH-2026-17\"" in r
}
