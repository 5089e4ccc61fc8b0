# Tests of agency scoping: data classes, clearance, zones, cameras, purposes, owned records.
package basira.authz

import rego.v1

test_deny_data_class_that_does_not_apply_to_the_action if {
	r := reasons(object.union(face_search, {"resource": {"data_class": "plate"}}))
	"data class \"plate\" does not apply to action \"search.face\"" in r
}

test_deny_sightings_without_a_data_class if {
	r := reasons(call(investigator, "search.sightings", {"zone": "downtown"}, theft_case))
	"action \"search.sightings\" needs resource.data_class (one of: biometric, plate)" in r
}

test_deny_traffic_agency_never_gets_biometric_data if {
	traffic_investigator := object.union(investigator, {"agency": "traffic"})
	r := reasons(object.union(face_search, {"subject": traffic_investigator}))
	"agency \"traffic\" is not granted data class \"biometric\"" in r
	"agency \"traffic\" is not granted data class \"watchlist\"" in reasons(call(traffic_operator, "watchlist.list", {"agency": "traffic"}, {}))
}

test_allow_traffic_agency_counts_and_plates if {
	allow with input as call(traffic_operator, "search.counts", {"zone": "ring-road"}, {"purpose": "traffic-management"})
	allow with input as call(traffic_operator, "search.plate", {"zone": "ring-road"}, {"purpose": "traffic-enforcement", "case_id": "TRF-2026-0007"})
}

test_deny_traffic_agency_evidence_images if {
	r := reasons(call(traffic_operator, "evidence.view", {"zone": "ring-road"}, {"purpose": "traffic-enforcement"}))
	"agency \"traffic\" is not granted data class \"video\"" in r
}

test_deny_clearance_below_the_data_class_minimum if {
	r := reasons(object.union(face_search, {"subject": {"clearance": 1}}))
	"data class \"biometric\" needs clearance 2; subject has 1" in r
}

# Confirming or rejecting a face match is looking at faces: the confirmer needs biometric clearance.
test_deny_face_match_verdict_below_biometric_clearance if {
	uncleared := {"subject": {"clearance": 1}}
	r := reasons(object.union(allowed_examples["alert.confirm"], uncleared))
	"data class \"biometric\" needs clearance 2; subject has 1" in r
	"data class \"biometric\" needs clearance 2; subject has 1" in reasons(object.union(allowed_examples["alert.reject"], uncleared))
	allow with input as object.union(allowed_examples["alert.confirm"], {"resource": {"data_class": "plate"}, "subject": {"clearance": 1}})
}

test_allow_machine_roles_need_no_clearance if {
	allow with input as call(object.union(body_camera, {"clearance": 0}), "ingest.push_frames", {"cameras": ["bwc-police-01"]}, {})
	allow with input as call(object.union(platform_service, {"clearance": 0}), "audit.tree_head", {}, {})
}

test_deny_camera_registration_without_a_zone if {
	r := reasons(call(camera_admin, "camera.register", {"cameras": ["cam-new"]}, {}))
	"action \"camera.register\" needs resource.zone" in r
}

test_deny_zone_outside_the_agreement if {
	r := reasons(call(camera_admin, "camera.register", {"zone": "airport", "cameras": ["cam-airport-09"]}, {}))
	"agency \"police\" is not granted zone \"airport\"" in r
}

test_deny_stream_filter_naming_a_zone_outside_the_agreement if {
	r := reasons(call(operator, "alert.stream", {"zones": ["medina", "airport"]}, {}))
	"agency \"police\" is not granted zone \"airport\"" in r
	not "agency \"police\" is not granted zone \"medina\"" in r
}

test_deny_camera_outside_the_agreement if {
	r := reasons(call(operator, "camera.get", {"cameras": ["cam-airport-01"]}, {}))
	"camera \"cam-airport-01\" is not granted to agency \"police\"" in r
}

test_deny_unknown_camera_without_a_zone if {
	r := reasons(call(operator, "camera.get", {"cameras": ["cam-unknown"]}, {}))
	"camera \"cam-unknown\" is not granted to agency \"police\"" in r
}

test_allow_registry_camera_in_a_granted_zone if {
	allow with input as call(operator, "camera.get", {"zone": "downtown", "cameras": ["cam-downtown-77"]}, {})
}

test_allow_gendarmerie_airport_cameras if {
	gendarme := object.union(operator, {"agency": "gendarmerie"})
	allow with input as call(gendarme, "camera.get", {"cameras": ["cam-airport-01"]}, {})
}

test_deny_camera_in_another_zone_than_claimed if {
	r := reasons(call(operator, "camera.get", {"zone": "downtown", "cameras": ["cam-medina-01"]}, {}))
	"camera \"cam-medina-01\" is in zone \"medina\", not in resource.zone \"downtown\"" in r
}

test_deny_missing_purpose if {
	r := reasons(call(analyst, "search.counts", {"zone": "downtown"}, {}))
	"action \"search.counts\" needs context.purpose" in r
}

test_deny_purpose_outside_the_agreement if {
	r := reasons(call(analyst, "search.counts", {"zone": "downtown"}, {"purpose": "counter-terrorism"}))
	"purpose \"counter-terrorism\" is not in agency \"police\"'s agreement" in r
}

test_deny_purpose_that_does_not_cover_the_data_class if {
	r := reasons(call(investigator, "search.plate", {"zone": "medina"}, {"purpose": "public-order", "case_id": "CASE-2026-0042"}))
	"purpose \"public-order\" does not cover data class \"plate\"" in r
}

test_deny_record_of_another_agency if {
	r := reasons(call(operator, "alert.acknowledge", {"agency": "gendarmerie", "zone": "port"}, {}))
	"resource belongs to agency \"gendarmerie\", not \"police\"" in r
}

test_deny_audit_query_without_naming_the_agency if {
	r := reasons(call(privacy_officer, "audit.query", {}, {}))
	"action \"audit.query\" by agency \"police\" must name resource.agency" in r
}

test_allow_privacy_officer_queries_own_agency_records if {
	allow with input as call(privacy_officer, "audit.query", {"agency": "police"}, {})
	"resource belongs to agency \"gendarmerie\", not \"police\"" in reasons(call(privacy_officer, "audit.query", {"agency": "gendarmerie"}, {}))
}

test_allow_oversight_reads_every_agency_records if {
	allow with input as call(auditor, "audit.query", {"agency": "intelligence"}, {})
}

test_allow_delivery_judged_on_the_recipient_agreement if {
	plate_hit := allowed_examples["match.plate"]
	allow with input as plate_hit
	r := reasons(object.union(plate_hit, {"resource": {"recipient_agency": "intelligence"}}))
	"camera \"cam-ring-01\" is not granted to agency \"intelligence\"" in r
}

test_deny_face_match_delivered_to_traffic if {
	r := reasons(object.union(allowed_examples["match.live_face"], {"resource": {"recipient_agency": "traffic"}}))
	"agency \"traffic\" is not granted data class \"biometric\"" in r
}

test_deny_delivery_without_a_recipient if {
	r := reasons(json.remove(allowed_examples["alert.camera_health"], ["resource/recipient_agency"]))
	"agency \"platform\" is not granted zone \"port\"" in r
}

test_deny_purpose_when_the_purpose_catalogue_is_missing if {
	r := reasons(face_search) with data.basira.purposes as {}
	"purpose \"theft-investigation\" does not cover data class \"biometric\"" in r
}

test_deny_agreement_without_zones_or_purposes if {
	bare := {"police": {"kind": "law_enforcement", "agreement": {"data_classes": ["biometric"], "cameras": []}}}
	r := reasons(face_search) with data.basira.agencies as bare
	"agency \"police\" is not granted zone \"medina\"" in r
	"purpose \"theft-investigation\" is not in agency \"police\"'s agreement" in r
}

test_deny_reasons_show_input_that_is_not_a_string_by_its_type if {
	r := reasons(object.union(allowed_examples["alert.acknowledge"], {"resource": {"agency": ["\u001f"]}}))
	"resource belongs to agency \"array\", not \"police\"" in r
}
