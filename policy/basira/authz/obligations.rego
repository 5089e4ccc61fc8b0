# Obligations the gate applies to an allowed answer: masking, result caps, redaction, zone filter.
#
# Always: mask_faces, mask_plates (bool), max_results (int), redact_fields (sorted dotted protobuf
# paths of response fields to clear). Zone-scoped actions add zones and cameras: a row of an answer
# may be shown if its zone is in zones or its camera in cameras. retention.purge adds retention_days.
# Actions (or data classes) with a time limit add max_window_days: face searches look back that far
# at most, whatever the caller asks.
package basira.authz

import rego.v1

obligations := object.union(
	object.union(object.union(common_obligations, zone_obligation), retention_obligation),
	window_obligation,
)

common_obligations := {
	"mask_faces": mask_faces,
	"mask_plates": mask_plates,
	"max_results": max_results,
	"redact_fields": sort(redact_fields),
}

# Imagery is masked unless this subject could unmask it for this same call (evidence.unmask);
# the unmasking itself is then logged with the decision's obligations.
default mask_faces := true

mask_faces := false if {
	action.returns_imagery
	allow
	"biometric" in granted_classes
	may_unmask
	allow with input.action as "evidence.unmask" with input.resource.data_class as "biometric"
}

default mask_plates := true

mask_plates := false if {
	action.returns_imagery
	allow
	"plate" in granted_classes
	may_unmask
	allow with input.action as "evidence.unmask" with input.resource.data_class as "plate"
}

# A cheap necessary condition checked before re-running the whole policy for evidence.unmask.
may_unmask if {
	some role in roles
	"evidence.unmask" in data.basira.roles[role].actions
}

# The smallest cap of the action and of the data classes it touches (a class may cap lower: face
# sightings are listed at most as many per page as a face search returns).
max_results := min(result_caps) if {
	count(result_caps) > 0
} else := data.basira.settings.default_max_results

result_caps contains action.max_results if is_number(action.max_results)

result_caps contains cap if {
	some class in data_classes
	cap := action.by_data_class[class].max_results
	is_number(cap)
}

# The longest time window one answer may cover, in days: the smallest limit of the action and of
# the data classes it touches (a person's movements are looked at over a bounded period only).
window_obligation := {"max_window_days": min(window_caps)} if {
	count(window_caps) > 0
} else := {}

window_caps contains action.max_window_days if is_number(action.max_window_days)

window_caps contains cap if {
	some class in data_classes
	cap := action.by_data_class[class].max_window_days
	is_number(cap)
}

# Fields of every data class the agency is not granted ...
redact_fields contains field if {
	some class, spec in data.basira.data_classes
	not class in granted_classes
	some field in spec.redact_fields
}

# ... and fields that every role granting this action redacts.
redact_fields contains field if {
	some role in granting_roles
	some field in object.get(data.basira.roles[role], "redact_fields", [])
	every other in granting_roles {
		field in object.get(data.basira.roles[other], "redact_fields", [])
	}
}

zone_obligation := {"zones": sort(answer_zones), "cameras": sort(answer_cameras)} if {
	zone_scoped
} else := {}

# Zones an answer may draw from: granted, requested (if zones were named), and inside the
# authorization's scope when one is in force.
answer_zones contains zone if {
	some zone in agreement.zones
	zone_requested(zone)
	zone_authorized(zone)
}

# Cameras granted one by one (body-worn, vehicle cameras; cameras an authorization names).
answer_cameras contains camera if {
	some camera in agreement.cameras
	camera_authorized(camera)
}

answer_cameras contains camera if {
	some camera in auth_scope_cameras
	authorization_scoped
	camera_granted(camera)
}

camera_authorized(_) if not authorization_scoped

camera_authorized(camera) if camera in auth_scope_cameras

camera_authorized(camera) if camera_zone(camera) in auth_scope_zones

zone_requested(_) if count(requested_zones) == 0

zone_requested(zone) if zone in requested_zones

zone_authorized(_) if not authorization_scoped

zone_authorized(zone) if zone in auth_scope_zones

authorization_scoped if {
	authorization_needed
	authorization
}

retention_obligation := {"retention_days": data.basira.retention[resource.data_class].days} if {
	action.retention
} else := {}
