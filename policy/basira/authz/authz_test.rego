# Tests of the decision as a whole: deny by default, who may do what, the revision, and one
# allowed example per action of the catalogue. Fixtures here are shared by the other tests.
package basira.authz

import rego.v1

# ---- fixtures ----

now := "2026-03-01T10:00:00Z"

court_order := {
	"id": "AUTH-2026-17",
	"issued_by": "court",
	"scope": {"zones": ["medina", "downtown"], "cameras": ["bwc-police-01"]},
	"expires": "2026-04-01T00:00:00Z",
}

investigator := {"user": "amina", "agency": "police", "roles": ["investigator"], "clearance": 2}

operator := {"user": "omar", "agency": "police", "roles": ["operator"], "clearance": 2}

camera_admin := {"user": "karim", "agency": "police", "roles": ["camera_admin"], "clearance": 1}

analyst := {"user": "salma", "agency": "police", "roles": ["analyst"], "clearance": 1}

privacy_officer := {"user": "nadia", "agency": "police", "roles": ["privacy_officer"], "clearance": 2}

auditor := {"user": "youssef", "agency": "oversight", "roles": ["auditor"], "clearance": 2}

body_camera := {"user": "bwc-police-01", "agency": "police", "roles": ["device"], "clearance": 1}

# Delivery acts (match.*, alert.camera_health) are asked by a platform service for a recipient.
alerting_service := {"user": "service:alerting", "agency": "platform", "roles": ["service"], "clearance": 0}

platform_service := {"user": "svc-retention", "agency": "platform", "roles": ["service"], "clearance": 3}

traffic_operator := {"user": "hamza", "agency": "traffic", "roles": ["operator"], "clearance": 1}

theft_case := {"purpose": "theft-investigation", "case_id": "CASE-2026-0042"}

judicial := object.union(theft_case, {"authorization": court_order})

call(subject, act, res, context) := {
	"subject": subject,
	"action": act,
	"resource": res,
	"context": object.union({"time": now, "source_ip": "10.20.0.7"}, context),
}

face_search := call(investigator, "search.face", {"zone": "medina", "cameras": ["cam-medina-01"]}, judicial)

# One allowed call per action of the catalogue.
allowed_examples := {
	"camera.register": call(camera_admin, "camera.register", {"zone": "medina", "cameras": ["cam-medina-09"]}, {}),
	"camera.update": call(camera_admin, "camera.update", {"zone": "medina", "cameras": ["cam-medina-01"]}, {}),
	"camera.get": call(operator, "camera.get", {"cameras": ["cam-medina-01"]}, {}),
	"camera.list": call(operator, "camera.list", {}, {}),
	"camera.decommission": call(camera_admin, "camera.decommission", {"cameras": ["cam-downtown-02"]}, {}),
	"camera.start_stream": call(camera_admin, "camera.start_stream", {"cameras": ["cam-port-01"]}, {}),
	"camera.stop_stream": call(camera_admin, "camera.stop_stream", {"cameras": ["cam-port-01"]}, {}),
	"camera.health": call(operator, "camera.health", {"zones": ["medina"]}, {}),
	"camera.preview": call(operator, "camera.preview", {"cameras": ["cam-medina-01"]}, {}),
	"ingest.push_frames": call(body_camera, "ingest.push_frames", {"cameras": ["bwc-police-01"]}, {}),
	"analytics.detect_faces": call(investigator, "analytics.detect_faces", {}, {"purpose": "theft-investigation"}),
	"analytics.embed_face": call(investigator, "analytics.embed_face", {}, theft_case),
	"analytics.read_plates": call(operator, "analytics.read_plates", {}, {"purpose": "stolen-vehicle"}),
	"watchlist.create": call(investigator, "watchlist.create", {}, theft_case),
	"watchlist.list": call(investigator, "watchlist.list", {"agency": "police"}, {}),
	"watchlist.enrol_subject": call(investigator, "watchlist.enrol_subject", {"watchlist": "wl-theft", "entry_expires": "2026-03-20T00:00:00Z"}, judicial),
	"watchlist.remove_subject": call(privacy_officer, "watchlist.remove_subject", {"watchlist": "wl-theft"}, {}),
	"hotlist.add_plate": call(operator, "hotlist.add_plate", {"watchlist": "hot-stolen", "entry_expires": "2026-06-01T00:00:00Z"}, {"purpose": "stolen-vehicle", "case_id": "CASE-2026-0101"}),
	"hotlist.remove_plate": call(operator, "hotlist.remove_plate", {"watchlist": "hot-stolen"}, {}),
	"hotlist.list": call(operator, "hotlist.list", {}, {}),
	"search.plate": call(investigator, "search.plate", {"zone": "ring-road"}, {"purpose": "stolen-vehicle", "case_id": "CASE-2026-0101"}),
	"search.face": face_search,
	"search.sightings": call(investigator, "search.sightings", {"data_class": "plate", "zone": "downtown"}, theft_case),
	"search.trajectory": call(investigator, "search.trajectory", {"data_class": "biometric"}, judicial),
	"search.counts": call(analyst, "search.counts", {"zone": "downtown"}, {"purpose": "public-order"}),
	"evidence.view": call(operator, "evidence.view", {"zone": "medina"}, {"purpose": "public-order"}),
	"evidence.export": call(investigator, "evidence.export", {"zone": "medina"}, theft_case),
	"evidence.unmask": call(investigator, "evidence.unmask", {"data_class": "biometric", "zone": "medina"}, judicial),
	"alert.stream": call(operator, "alert.stream", {}, {}),
	"alert.acknowledge": call(operator, "alert.acknowledge", {"agency": "police", "zone": "medina"}, {}),
	"alert.confirm": call(operator, "alert.confirm", {"agency": "police", "zone": "medina", "data_class": "biometric", "first_confirmed_by": "amina"}, {}),
	"alert.reject": call(operator, "alert.reject", {"agency": "police", "zone": "medina", "data_class": "biometric"}, {}),
	"alert.escalate": call(operator, "alert.escalate", {"agency": "police"}, {}),
	"alert.deliver_escalation": call(alerting_service, "alert.deliver_escalation", {"zone": "port", "cameras": ["cam-port-01"], "data_class": "plate", "recipient_agency": "gendarmerie", "escalated_from": "police"}, {"purpose": "stolen-vehicle"}),
	"alert.camera_health": call(alerting_service, "alert.camera_health", {"zone": "port", "cameras": ["cam-port-01"], "recipient_agency": "traffic"}, {}),
	"match.live_face": call(alerting_service, "match.live_face", {"zone": "medina", "cameras": ["cam-medina-02"], "watchlist": "wl-theft", "entry_expires": "2026-03-20T00:00:00Z", "recipient_agency": "police"}, judicial),
	"match.plate": call(alerting_service, "match.plate", {"cameras": ["cam-ring-01"], "hotlist_entry": "hot-17", "entry_expires": "2026-06-01T00:00:00Z", "recipient_agency": "traffic"}, {"purpose": "stolen-vehicle"}),
	"audit.query": call(auditor, "audit.query", {}, {}),
	"audit.tree_head": call(platform_service, "audit.tree_head", {}, {}),
	"audit.proof": call(privacy_officer, "audit.proof", {}, {}),
	"audit.export": call(auditor, "audit.export", {"agency": "police"}, {"purpose": "oversight"}),
	"retention.purge": call(platform_service, "retention.purge", {"data_class": "plate_read", "time_to": "2026-01-15T00:00:00Z"}, {}),
	"policy.edit": call(privacy_officer, "policy.edit", {"data_path": "/basira/agencies/traffic", "revision_from": "r1"}, {}),
	# city scale: camera estate, live follows, crowd/congestion alerts
	"camera.report_status": call(body_camera, "camera.report_status", {"zone": "medina", "cameras": ["bwc-police-01"]}, {}),
	"camera.list_down": call(operator, "camera.list_down", {"zone": "medina"}, {}),
	"follow.start": call(investigator, "follow.start", {"data_class": "plate"}, judicial),
	"follow.stop": call(operator, "follow.stop", {"agency": "police"}, {}),
	"follow.list": call(operator, "follow.list", {}, {}),
	"follow.sighting": call(alerting_service, "follow.sighting", {"data_class": "plate", "zone": "medina", "cameras": ["cam-medina-01"], "recipient_agency": "police"}, judicial),
	"alert.counts": call(alerting_service, "alert.counts", {"zone": "ring-road", "cameras": ["cam-ring-01"], "recipient_agency": "traffic"}, {}),
}

# Reasons a call is denied with (for assertions that name the reason).
reasons(call_input) := found if {
	found := deny with input as call_input
}

# ---- the catalogue ----

test_allow_catalogue_lists_every_action if {
	object.keys(data.basira.actions) == {
		"camera.register", "camera.update", "camera.get", "camera.list", "camera.decommission",
		"camera.start_stream", "camera.stop_stream", "camera.health", "camera.preview", "ingest.push_frames", "analytics.detect_faces",
		"analytics.embed_face", "analytics.read_plates", "watchlist.create", "watchlist.list",
		"watchlist.enrol_subject", "watchlist.remove_subject", "hotlist.add_plate", "hotlist.remove_plate",
		"hotlist.list", "search.plate", "search.face", "search.sightings", "search.trajectory",
		"search.counts", "evidence.view", "evidence.export", "evidence.unmask", "alert.stream", "alert.acknowledge",
		"alert.confirm", "alert.reject", "alert.escalate", "alert.deliver_escalation", "alert.camera_health", "match.live_face",
		"match.plate", "audit.query",
		"camera.report_status", "camera.list_down", "follow.start", "follow.stop", "follow.list",
		"follow.sighting", "alert.counts",
		"audit.tree_head", "audit.proof", "audit.export", "retention.purge", "policy.edit",
	}
}

test_allow_every_action_has_an_allowed_example if {
	print("actions without an example:", object.keys(data.basira.actions) - object.keys(allowed_examples))
	object.keys(allowed_examples) == object.keys(data.basira.actions)
	refused := {name: reasons(example) | some name, example in allowed_examples; count(reasons(example)) > 0}
	print("refused examples:", refused)
	count(refused) == 0
}

test_allow_every_role_names_known_actions if {
	unknown := {[role, act] | some role, spec in data.basira.roles; some act in spec.actions; not data.basira.actions[act]}
	print("unknown actions in roles:", unknown)
	count(unknown) == 0
}

test_allow_agreements_name_known_zones_classes_and_purposes if {
	unknown := {[name, ref] |
		some name, spec in data.basira.agencies
		some ref in array.concat(array.concat(spec.agreement.zones, spec.agreement.data_classes), spec.agreement.purposes)
		not known_reference(ref)
	}
	print("unknown references:", unknown)
	count(unknown) == 0
	every _, camera in data.basira.cameras {
		data.basira.zones[camera.zone]
	}
	every _, class in data.basira.retention {
		data.basira.data_classes[class.data_class]
	}
}

known_reference(ref) if data.basira.zones[ref]

known_reference(ref) if data.basira.data_classes[ref]

known_reference(ref) if data.basira.purposes[ref]

# ---- the decision ----

test_allow_face_search_with_court_order if {
	bundles := {"basira": {"manifest": {"revision": "test-rev", "roots": ["basira"]}}}
	d := decision with input as face_search with data.system.bundles as bundles
	d.allow == true
	d.deny == []
	d.revision == "test-rev"
}

test_allow_revision_from_the_bundle_owning_basira if {
	bundles := {
		"basira": {"manifest": {"revision": "r-basira", "roots": ["basira"]}},
		"other": {"manifest": {"revision": "r-other", "roots": ["other"]}},
	}
	revision == "r-basira" with data.system.bundles as bundles
	revision == "r-all" with data.system.bundles as {"all": {"manifest": {"revision": "r-all"}}}
}

test_deny_revision_is_empty_without_a_bundle if {
	revision == "" with data.system.bundles as {}
}

test_deny_empty_input_by_default if {
	d := decision with input as {}
	d.allow == false
	"subject.user is missing" in d.deny
	"agency \"\" is not party to the agreement" in d.deny
	"unknown action \"\"" in d.deny
	"context.time is missing or not a string (null)" in d.deny
}

test_deny_malformed_input_without_error if {
	d := decision with input as {"subject": "amina", "action": 7, "resource": [], "context": "now"}
	d.allow == false
	"subject.user is missing" in d.deny
	"unknown action \"\"" in d.deny
	d.obligations.mask_faces == true
	d.obligations.mask_plates == true
}

test_deny_user_that_is_not_a_string if {
	"subject.user is missing" in reasons(object.union(face_search, {"subject": {"user": 42}}))
	"subject.user is missing" in reasons(object.union(face_search, {"subject": {"user": ""}}))
}

test_deny_unknown_agency if {
	r := reasons(object.union(face_search, {"subject": {"agency": "customs"}}))
	"agency \"customs\" is not party to the agreement" in r
}

test_deny_unknown_action if {
	"unknown action \"search.everything\"" in reasons(object.union(face_search, {"action": "search.everything"}))
}

test_deny_role_that_does_not_grant_the_action if {
	r := reasons(object.union(face_search, {"subject": analyst}))
	"roles [analyst] of agency \"police\" do not permit action \"search.face\"" in r
}

test_deny_auditor_role_outside_the_oversight_body if {
	police_auditor := object.union(auditor, {"agency": "police"})
	r := reasons(call(police_auditor, "audit.query", {"agency": "police"}, {}))
	"roles [auditor] of agency \"police\" do not permit action \"audit.query\"" in r
}

test_deny_roles_that_are_not_a_list if {
	r := reasons(object.union(face_search, {"subject": {"roles": "investigator"}}))
	"roles [] of agency \"police\" do not permit action \"search.face\"" in r
}

test_deny_missing_clock if {
	r := reasons(json.remove(face_search, ["context/time"]))
	"context.time is missing or not a string (null)" in r
}

test_deny_clearance_that_is_not_a_number if {
	r := reasons(object.union(face_search, {"subject": {"clearance": "top"}}))
	"data class \"biometric\" needs clearance 2; subject has 0" in r
}

test_deny_policy_edit_by_anyone_but_a_privacy_officer if {
	r := reasons(call(investigator, "policy.edit", {"policy_module": "basira/authz/authz.rego"}, {}))
	"roles [investigator] of agency \"police\" do not permit action \"policy.edit\"" in r
}

# ---- the console's additions: escalation delivery, camera health, evidence export ----

test_deny_escalation_to_an_agency_not_granted_the_zone if {
	escalation := call(alerting_service, "alert.deliver_escalation", {"zone": "medina", "cameras": ["cam-medina-01"], "data_class": "plate", "recipient_agency": "gendarmerie", "escalated_from": "police"}, {"purpose": "stolen-vehicle"})
	"agency \"gendarmerie\" is not granted zone \"medina\"" in reasons(escalation)
}

test_deny_escalation_of_biometrics_to_an_agency_without_them if {
	escalation := call(alerting_service, "alert.deliver_escalation", {"zone": "port", "cameras": ["cam-port-01"], "data_class": "biometric", "recipient_agency": "traffic", "escalated_from": "police"}, {"purpose": "stolen-vehicle"})
	"agency \"traffic\" is not granted data class \"biometric\"" in reasons(escalation)
}

test_deny_escalation_delivery_by_a_person if {
	escalation := call(operator, "alert.deliver_escalation", {"zone": "port", "data_class": "plate", "recipient_agency": "gendarmerie"}, {"purpose": "stolen-vehicle"})
	count(reasons(escalation)) > 0
}

test_deny_camera_health_of_zones_outside_the_agreement if {
	"agency \"traffic\" is not granted zone \"airport\"" in reasons(call(traffic_operator, "camera.health", {"zones": ["airport"]}, {}))
}

test_deny_evidence_export_without_a_case if {
	"action \"evidence.export\" needs context.case_id" in reasons(call(investigator, "evidence.export", {"zone": "medina"}, {"purpose": "theft-investigation"}))
}

# ---- city scale: a live follow needs a case and an authorization, and ends with it ----

test_deny_follow_without_authorization if {
	r := reasons(call(investigator, "follow.start", {"data_class": "plate"}, theft_case))
	"action \"follow.start\" needs context.authorization (id, issued_by, scope, expires)" in r
}

test_deny_follow_sighting_after_the_authorization_expired if {
	late := object.union(judicial, {"time": "2026-04-02T00:00:00Z"})
	r := reasons(call(alerting_service, "follow.sighting", {"data_class": "plate", "zone": "medina", "cameras": ["cam-medina-01"], "recipient_agency": "police"}, late))
	"authorization \"AUTH-2026-17\" expired at \"2026-04-01T00:00:00Z\"" in r
}

test_deny_follow_sighting_outside_the_authorization_scope if {
	r := reasons(call(alerting_service, "follow.sighting", {"data_class": "plate", "zone": "port", "cameras": ["cam-port-01"], "recipient_agency": "police"}, judicial))
	"zone \"port\" is outside the scope of authorization \"AUTH-2026-17\"" in r
}

test_deny_operator_cannot_start_a_follow if {
	r := reasons(call(operator, "follow.start", {"data_class": "plate"}, judicial))
	count(r) > 0
}

# Listing (or following) face sightings is a face search without an image: the roles must also permit
# search.face, whatever role grants search.sightings; plate sightings stay open to analysts.
face_listing := call(investigator, "search.sightings", {"data_class": "biometric", "zone": "medina"}, judicial)

test_allow_investigator_lists_face_sightings_with_a_court_order if {
	allow with input as face_listing
}

test_deny_analyst_lists_face_sightings_without_a_face_search_role if {
	cleared_analyst := object.union(analyst, {"clearance": 2})
	r := reasons(object.union(face_listing, {"subject": cleared_analyst}))
	r == {"roles [analyst] of agency \"police\" do not permit action \"search.face\", which \"search.sightings\" of data class \"biometric\" also needs"}
	allow with input as call(cleared_analyst, "search.sightings", {"data_class": "plate", "zone": "medina"}, theft_case)
	allow with input as object.union(face_listing, {"subject": object.union(cleared_analyst, {"roles": ["analyst", "investigator"]})})
}

test_deny_face_trajectory_without_a_face_search_role if {
	follower := {"user": "rania", "agency": "police", "roles": ["follower"], "clearance": 2}
	with_role := object.union(data.basira.roles, {"follower": {"actions": ["search.trajectory"]}})
	r := reasons(call(follower, "search.trajectory", {"data_class": "biometric", "zone": "medina"}, judicial)) with data.basira.roles as with_role
	"roles [follower] of agency \"police\" do not permit action \"search.face\", which \"search.trajectory\" of data class \"biometric\" also needs" in r
	allow with input as call(follower, "search.trajectory", {"data_class": "plate", "zone": "medina"}, theft_case) with data.basira.roles as with_role
}

test_deny_face_listing_needs_the_legal_basis_of_face_search if {
	"action \"search.sightings\" needs context.authorization (id, issued_by, scope, expires)" in reasons(object.union(face_listing, {"context": object.union(face_listing.context, {"authorization": null})}))
	"action \"search.sightings\" needs context.case_id" in reasons(call(investigator, "search.sightings", {"data_class": "biometric", "zone": "medina"}, {"purpose": "theft-investigation", "authorization": court_order}))
}
