# Legal safeguards: case ids, judicial authorizations and their urgent-use grace, entry expiries,
# two-person confirmation of matches, retention limits on purges.
package basira.authz

import rego.v1

# What this call must carry (purpose, case_id, authorization): the action's needs plus those of
# the data class it touches.
needs contains need if {
	some need in action.needs
}

needs contains need if {
	some class in data_classes
	some need in action.by_data_class[class].needs
}

# The specs (action or per-class) that ask for an authorization; each may grant urgent-use grace.
authorization_specs contains action if "authorization" in action.needs

authorization_specs contains spec if {
	some class in data_classes
	spec := action.by_data_class[class]
	"authorization" in spec.needs
}

authorization_needed if count(authorization_specs) > 0

# The shortest grace among the specs that apply (0: no urgent use without an authorization).
urgent_grace_hours := min({object.get(spec, "urgent_grace_hours", 0) | some spec in authorization_specs})

# ---- case id ----

case_id := ctx.case_id if is_string(ctx.case_id)

deny contains msg if {
	"case_id" in needs
	not case_id
	msg := sprintf("action \"%v\" needs context.case_id", [action_id])
}

deny contains msg if {
	case_id
	not regex.match(case_id_pattern, case_id)
	msg := sprintf("case id \"%v\" does not match %v", [case_id, case_id_pattern])
}

# ---- authorization (court / authority id, scope, expiry) ----

authorization := ctx.authorization if is_object(ctx.authorization)

authorization_label := shown(object.get(authorization, "id", ""))

authorization_expires_ns := parse_time(authorization.expires)

auth_scope_zones contains zone if {
	some zone in authorization.scope.zones
}

auth_scope_cameras contains camera if {
	some camera in authorization.scope.cameras
}

# Urgent use: started without an authorization, allowed for the grace period the data grants.
urgent := ctx.urgent if is_object(ctx.urgent)

urgent_use_valid if {
	urgent_grace_hours > 0
	declared := parse_time(urgent.declared_at)
	declared <= now_ns
	now_ns - declared <= urgent_grace_hours * hour_ns
}

deny contains msg if {
	authorization_needed
	not authorization
	not urgent_use_valid
	msg := sprintf("action \"%v\" needs context.authorization (id, issued_by, scope, expires)", [action_id])
}

deny contains msg if {
	authorization_needed
	not authorization
	urgent
	not urgent_use_valid
	msg := sprintf("urgent use declared at \"%v\" is not within the %v-hour grace period of action \"%v\"", [shown(object.get(urgent, "declared_at", "")), urgent_grace_hours, action_id])
}

deny contains msg if {
	authorization_needed
	authorization
	not is_string(object.get(authorization, "id", null))
	msg := "context.authorization has no id"
}

deny contains msg if {
	authorization_needed
	authorization
	issuer := object.get(authorization, "issued_by", "")
	not issuer in authorization_issuers
	msg := sprintf("authorization \"%v\" is issued by \"%v\", not a recognised authority", [authorization_label, shown(issuer)])
}

deny contains msg if {
	authorization_needed
	authorization
	not authorization_expires_ns
	msg := sprintf("authorization \"%v\" has no valid expiry (\"%v\")", [authorization_label, shown(object.get(authorization, "expires", ""))])
}

deny contains msg if {
	authorization_needed
	authorization_expires_ns <= now_ns
	msg := sprintf("authorization \"%v\" expired at \"%v\"", [authorization_label, authorization.expires])
}

deny contains msg if {
	authorization_needed
	zone_scoped
	authorization
	some zone in requested_zones
	not zone in auth_scope_zones
	msg := sprintf("zone \"%v\" is outside the scope of authorization \"%v\"", [shown(zone), authorization_label])
}

deny contains msg if {
	authorization_needed
	zone_scoped
	authorization
	some camera in requested_cameras
	not camera in auth_scope_cameras
	zone := zone_or_null(camera)
	not zone in auth_scope_zones
	msg := sprintf("camera \"%v\" is outside the scope of authorization \"%v\"", [shown(camera), authorization_label])
}

# ---- watchlist / hotlist entries carry an expiry; expired entries stop matching ----

entry_expires_ns := parse_time(resource.entry_expires)

deny contains msg if {
	action.entry_expiry
	not entry_expires_ns
	msg := sprintf("action \"%v\" needs resource.entry_expires (RFC 3339), got \"%v\"", [action_id, shown(object.get(resource, "entry_expires", ""))])
}

deny contains msg if {
	action.entry_expiry
	entry_expires_ns <= now_ns
	msg := sprintf("entry expired at \"%v\"", [resource.entry_expires])
}

deny contains msg if {
	action.entry_expiry
	authorization_needed
	entry_expires_ns > authorization_expires_ns
	msg := sprintf("entry expiry \"%v\" is later than authorization \"%v\"'s expiry \"%v\"", [resource.entry_expires, authorization_label, authorization.expires])
}

# ---- two different people confirm a match ----

deny contains msg if {
	action.two_person
	resource.first_confirmed_by == user
	msg := sprintf("user \"%v\" gave the first confirmation; a different person must confirm", [shown(user)])
}

# ---- retention: a purge may only erase what is older than its class's limit ----

purge_until_ns := parse_time(resource.time_to)

deny contains msg if {
	action.retention
	class := object.get(resource, "data_class", null)
	not data.basira.retention[class]
	msg := sprintf("unknown retention class \"%v\"", [shown(object.get(resource, "data_class", ""))])
}

deny contains msg if {
	action.retention
	not purge_until_ns
	msg := sprintf("action \"%v\" needs resource.time_to (RFC 3339), got \"%v\"", [action_id, shown(object.get(resource, "time_to", ""))])
}

deny contains msg if {
	action.retention
	days := data.basira.retention[resource.data_class].days
	purge_until_ns > now_ns - (days * day_ns)
	msg := sprintf("purge up to \"%v\" would erase \"%v\" records younger than their %v-day retention", [resource.time_to, resource.data_class, days])
}
