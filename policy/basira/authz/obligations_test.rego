# Tests of the obligations: masking, result caps, redaction, zone filter, retention days.
package basira.authz

import rego.v1

obligations_for(call_input) := found if {
	found := obligations with input as call_input
}

test_allow_evidence_view_masks_faces_and_plates_without_a_case if {
	o := obligations_for(allowed_examples["evidence.view"])
	o.mask_faces == true
	o.mask_plates == true
	o.max_results == 50
}

test_allow_evidence_view_unmasked_with_a_court_order if {
	o := obligations_for(call(investigator, "evidence.view", {"zone": "medina"}, judicial))
	o.mask_faces == false
	o.mask_plates == false
}

test_allow_evidence_view_unmasks_plates_only_with_a_case if {
	o := obligations_for(call(investigator, "evidence.view", {"zone": "medina"}, theft_case))
	o.mask_faces == true
	o.mask_plates == false
}

test_allow_analyst_evidence_stays_masked_and_redacted if {
	o := obligations_for(call(analyst, "evidence.view", {"zone": "medina"}, theft_case))
	o.mask_faces == true
	o.mask_plates == true
	o.redact_fields == ["sightings.plate"]
}

test_allow_role_redaction_applies_only_if_every_granting_role_redacts if {
	both := object.union(analyst, {"roles": ["analyst", "investigator"]})
	o := obligations_for(call(both, "evidence.view", {"zone": "medina"}, theft_case))
	o.redact_fields == []
}

test_allow_traffic_answers_redact_classes_it_is_not_granted if {
	o := obligations_for(call(traffic_operator, "camera.list", {}, {}))
	o.redact_fields == [
		"alert.snapshot_id", "camera.source_url", "cameras.source_url",
		"sightings.distance", "sightings.face", "sightings.snapshot_id",
	]
	o.zones == ["downtown", "medina", "port", "ring-road"]
	o.cameras == []
}

test_allow_max_results_per_action_and_default if {
	obligations_for(face_search).max_results == 20
	obligations_for(allowed_examples["camera.list"]).max_results == 1000
	obligations_for(allowed_examples["alert.stream"]).max_results == 100
	obligations_for(allowed_examples["alert.stream"]).max_results == 7 with data.basira.settings.default_max_results as 7
}

test_allow_zones_and_cameras_of_the_agreement if {
	o := obligations_for(allowed_examples["camera.list"])
	o.zones == ["downtown", "medina", "port", "ring-road"]
	o.cameras == ["bwc-police-01", "bwc-police-02"]
}

test_allow_zones_and_cameras_limited_to_the_authorization_scope if {
	o := obligations_for(allowed_examples["search.trajectory"])
	o.zones == ["downtown", "medina"]
	o.cameras == ["bwc-police-01"]
	obligations_for(face_search).zones == ["medina"]
}

test_allow_agreement_camera_inside_an_authorized_zone if {
	order := object.union(court_order, {"scope": {"zones": ["medina"], "cameras": []}})
	trajectory := object.union(allowed_examples["search.trajectory"], {"context": {"authorization": order}, "resource": {"zone": "medina"}})
	obligations_for(trajectory).cameras == ["bwc-police-01", "bwc-police-02"]
}

test_allow_zones_limited_to_the_requested_filter if {
	o := obligations_for(call(operator, "alert.stream", {"zones": ["medina", "port"]}, {}))
	o.zones == ["medina", "port"]
}

test_allow_unscoped_actions_carry_no_zone_filter if {
	o := obligations_for(allowed_examples["audit.query"])
	not o.zones
	not o.retention_days
}

test_allow_purge_carries_the_retention_days if {
	obligations_for(allowed_examples["retention.purge"]).retention_days == 30
}

test_allow_face_listing_is_capped_like_face_search if {
	face_list := call(investigator, "search.sightings", {"data_class": "biometric", "zone": "medina"}, judicial)
	obligations_for(face_list).max_results == 20
	obligations_for(face_list).zones == ["medina"]
	obligations_for(call(investigator, "search.sightings", {"data_class": "plate", "zone": "medina"}, theft_case)).max_results == 500
}

test_allow_face_answers_carry_the_longest_window_they_may_cover if {
	obligations_for(face_search).max_window_days == 31
	face_list := call(investigator, "search.sightings", {"data_class": "biometric", "zone": "medina"}, judicial)
	obligations_for(face_list).max_window_days == 31
	face_path := call(investigator, "search.trajectory", {"data_class": "biometric", "zone": "medina"}, judicial)
	obligations_for(face_path).max_window_days == 31
	obligations_for(face_search).max_window_days == 7 with data.basira.actions["search.face"].max_window_days as 7
}

test_allow_answers_without_a_time_limit_carry_no_window if {
	plates := call(investigator, "search.sightings", {"data_class": "plate", "zone": "medina"}, theft_case)
	object.get(obligations_for(plates), "max_window_days", null) == null
	object.get(obligations_for(allowed_examples["camera.list"]), "max_window_days", null) == null
}
