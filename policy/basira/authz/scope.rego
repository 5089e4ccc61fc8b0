# Agency scoping: only the data classes, zones, cameras and purposes an agency's agreement grants.
package basira.authz

import rego.v1

# The data classes a call touches: the action's own, plus resource.data_class where the action
# distinguishes classes (search.sightings of "biometric" or "plate" targets, ...).
data_classes contains class if {
	some class in action.data_classes
}

data_classes contains class if {
	class := resource.data_class
	action.by_data_class[class]
}

granted_classes contains class if {
	some class in agreement.data_classes
}

deny contains msg if {
	action
	not action.retention
	class := resource.data_class
	not action.by_data_class[class]
	not class in object.get(action, "data_classes", [])
	msg := sprintf("data class \"%v\" does not apply to action \"%v\"", [shown(class), action_id])
}

deny contains msg if {
	action.data_class_required
	not is_string(object.get(resource, "data_class", null))
	msg := sprintf("action \"%v\" needs resource.data_class (one of: %v)", [action_id, concat(", ", sort(object.keys(action.by_data_class)))])
}

deny contains msg if {
	agreement
	some class in data_classes
	not class in granted_classes
	msg := sprintf("agency \"%v\" is not granted data class \"%v\"", [agency_id, class])
}

# Clearance is a person's: roles marked "machine" (devices, services) are exempt; what a service
# delivers is cleared again when a person of the recipient streams or views it.
person_granted if {
	some role in granting_roles
	not data.basira.roles[role].machine
}

deny contains msg if {
	person_granted
	some class in data_classes
	needed := data.basira.data_classes[class].min_clearance
	clearance < needed
	msg := sprintf("data class \"%v\" needs clearance %v; subject has %v", [class, needed, clearance])
}

# ---- zones and cameras ----

zone_scoped if action.scope == "zones"

deny contains msg if {
	action.requires_zone
	not is_string(object.get(resource, "zone", null))
	msg := sprintf("action \"%v\" needs resource.zone", [action_id])
}

# Zones a call names: resource.zone, and resource.zones (e.g. an alert stream's filter).
requested_zones contains zone if {
	zone := resource.zone
	is_string(zone)
}

requested_zones contains zone if {
	is_array(resource.zones)
	some zone in resource.zones
}

deny contains msg if {
	zone_scoped
	agreement
	some zone in requested_zones
	not zone in object.get(agreement, "zones", [])
	msg := sprintf("agency \"%v\" is not granted zone \"%v\"", [agency_id, shown(zone)])
}

requested_cameras contains camera if {
	is_array(resource.cameras)
	some camera in resource.cameras
}

# A camera's zone: the catalogue's (data.basira.cameras), else the zone the gate resolved from
# the camera registry into resource.zone.
camera_zone(camera) := data.basira.cameras[camera].zone

camera_zone(camera) := resource.zone if {
	not data.basira.cameras[camera]
	is_string(resource.zone)
}

# The same, or null when neither says (never undefined, so it may be negated: see lint.py).
zone_or_null(camera) := zone if {
	zone := camera_zone(camera)
} else := null

camera_granted(camera) if camera in agreement.cameras

camera_granted(camera) if camera_zone(camera) in agreement.zones

deny contains msg if {
	zone_scoped
	agreement
	some camera in requested_cameras
	not camera_granted(camera)
	msg := sprintf("camera \"%v\" is not granted to agency \"%v\"", [shown(camera), agency_id])
}

deny contains msg if {
	zone_scoped
	some camera in requested_cameras
	known := data.basira.cameras[camera].zone
	is_string(resource.zone)
	known != resource.zone
	msg := sprintf("camera \"%v\" is in zone \"%v\", not in resource.zone \"%v\"", [shown(camera), known, resource.zone])
}

# ---- purpose ----

purpose := ctx.purpose if is_string(ctx.purpose)

deny contains msg if {
	"purpose" in needs
	not purpose
	msg := sprintf("action \"%v\" needs context.purpose", [action_id])
}

deny contains msg if {
	agreement
	purpose
	not purpose in object.get(agreement, "purposes", [])
	msg := sprintf("purpose \"%v\" is not in agency \"%v\"'s agreement", [purpose, agency_id])
}

deny contains msg if {
	purpose
	some class in data_classes
	not class in object.get(purposes, [purpose, "data_classes"], [])
	msg := sprintf("purpose \"%v\" does not cover data class \"%v\"", [purpose, class])
}

# ---- records owned by an agency (alerts, watchlists, audit records) ----

deny contains msg if {
	owner := resource.agency
	owner != agency_id
	not is_oversight
	msg := sprintf("resource belongs to agency \"%v\", not \"%v\"", [shown(owner), agency_id])
}

deny contains msg if {
	action.own_agency_records
	not is_oversight
	not resource.agency
	msg := sprintf("action \"%v\" by agency \"%v\" must name resource.agency", [action_id, agency_id])
}
