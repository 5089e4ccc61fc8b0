# The gate's decision for one call or act: deny by default, allow only when no rule objects.
#
# Query: data.basira.authz.decision
#   -> {"allow": bool, "deny": [reason], "obligations": {...}, "revision": "..."}
# Every deny reason names the offending value. The agreement (agencies, zones, roles, actions,
# data classes, purposes, retention, settings) is data under data.basira.*, not code.
package basira.authz

import rego.v1

default allow := false

allow if count(deny) == 0

decision := {
	"allow": allow,
	"deny": sort(deny),
	"obligations": obligations,
	"revision": revision,
}

# The revision of the policy bundle that took the decision (for the access log). OPA exposes every
# activated bundle's manifest under data.system.bundles; the embedded engine writes the same shape.
default revision := ""

revision := concat("+", sort(bundle_revisions)) if count(bundle_revisions) > 0

bundle_revisions contains manifest.revision if {
	some name
	manifest := data.system.bundles[name].manifest
	some root in object.get(manifest, "roots", [""])
	root in {"", "basira"}
}

# ---- the input, read defensively: a malformed input denies instead of failing the evaluation ----

# Every reader below is total (a default, or object.get on a total value), so a negation over it
# means the same on OPA and regorus (see basira.policy.lint: never `not f(x.missing)`).
default subject := {}

subject := input.subject if is_object(input.subject)

default resource := {}

resource := input.resource if is_object(input.resource)

default ctx := {}

ctx := input.context if is_object(input.context)

default user := ""

user := object.get(subject, "user", "")

# The agency whose agreement governs the call: the subject's own or, for a delivery act (a service
# handing a match or a camera alarm to an agency, "on_behalf" in the catalogue), the recipient's.
agency_id := resource.recipient_agency if {
	action.on_behalf
	is_string(resource.recipient_agency)
} else := subject_agency

default subject_agency := ""

subject_agency := subject.agency if is_string(subject.agency)

clearance := c if {
	c := subject.clearance
	is_number(c)
} else := 0

roles contains role if {
	is_array(subject.roles)
	some role in subject.roles
	is_string(role)
}

action_id := input.action if {
	is_string(input.action)
} else := ""

# The action's entry in the catalogue; undefined for an unknown action.
action := data.basira.actions[action_id]

# The subject's agency and its agreement; undefined for an unknown agency.
agency := data.basira.agencies[agency_id]

agreement := agency.agreement

is_oversight if agency.kind == "oversight"

# Settings privacy officers keep; a missing one refuses (no issuer is recognised, no case id matches).
default authorization_issuers := []

authorization_issuers := data.basira.settings.authorization_issuers

default purposes := {}

purposes := data.basira.purposes

default case_id_pattern := "[^\\s\\S]"

case_id_pattern := data.basira.settings.case_id_pattern

# Roles of the subject that grant this action (a role may be limited to some agencies).
granting_roles contains role if {
	some role in roles
	spec := data.basira.roles[role]
	action_id in spec.actions
	agency_id in object.get(spec, "agencies", [agency_id])
}

# How a deny reason shows a value taken from the input: a string as it is, anything else by its type
# (OPA and regorus print composite values and large numbers differently; a reason is no place for
# arbitrary input either).
shown(value) := value if is_string(value)

shown(value) := type_name(value) if not is_string(value)

# ---- time: context.time is the clock for every expiry check ----

# Nanoseconds since the epoch of an RFC 3339 time; undefined for a non-string. The one exception to
# "deny, never fail": regorus fails the whole evaluation on a malformed time string (OPA makes it
# undefined), so PolicyClient normalises every time before asking and a direct caller gets an error
# (HTTP 500), which is a refusal too.
parse_time(value) := time.parse_rfc3339_ns(value) if is_string(value)

now_ns := parse_time(ctx.time)

hour_ns := 3600000000000

day_ns := 24 * hour_ns

# ---- who and what ----

deny contains "subject.user is missing" if {
	not is_string(user)
}

deny contains "subject.user is missing" if {
	user == ""
}

deny contains msg if {
	not agency
	msg := sprintf("agency \"%v\" is not party to the agreement", [agency_id])
}

deny contains msg if {
	not action
	msg := sprintf("unknown action \"%v\"", [action_id])
}

deny contains msg if {
	action
	count(granting_roles) == 0
	msg := sprintf("roles [%v] of agency \"%v\" do not permit action \"%v\"", [concat(", ", sort(roles)), agency_id, action_id])
}

# A data class may name another action the subject's roles must also permit (`also_action`): listing
# or following face sightings is a face search without an image, so it needs a role that may search
# faces, not only one that may list plate sightings.
roles_permit(other) if {
	some role in roles
	spec := data.basira.roles[role]
	other in spec.actions
	agency_id in object.get(spec, "agencies", [agency_id])
}

deny contains msg if {
	count(granting_roles) > 0
	some class in data_classes
	other := action.by_data_class[class].also_action
	not roles_permit(other)
	msg := sprintf("roles [%v] of agency \"%v\" do not permit action \"%v\", which \"%v\" of data class \"%v\" also needs", [concat(", ", sort(roles)), agency_id, other, action_id, class])
}

deny contains msg if {
	not now_ns
	msg := sprintf("context.time is missing or not a string (%v)", [shown(object.get(ctx, "time", null))])
}
