"""Wire shapes of people."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server.common.schemas import Code
from server.people.models import PERSON_KIND_LABELS, PERSON_KINDS

phone_validator = validate.Regexp(r"^\+?[0-9 -]{6,20}$", error="not a phone number")


_KIND_CHOICES = ", ".join(f"{code} ({label})" for code, label in PERSON_KIND_LABELS.items())
kind_validator = validate.OneOf(PERSON_KINDS, error=f"Must be one of: {_KIND_CHOICES}.")


class PersonSchema(ma.Schema):
    code = Code(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(1, 100))
    kind = ma.fields.String(required=True, validate=kind_validator, error_messages={
        "required": f"Missing; one of: {_KIND_CHOICES}."})
    phone = ma.fields.String(load_only=True, load_default=None, allow_none=True,
                             validate=phone_validator,
                             metadata={"description": "Stored masked; never returned whole"})
    volunteer_number = ma.fields.String(load_default=None, allow_none=True,
                                        validate=validate.Length(max=64))
    branch = Code(load_default=None, allow_none=True,
                  metadata={"description": "Code of the person's organisation"})
    branch_since = ma.fields.Date(load_default=None, allow_none=True,
                                  metadata={"description": "First day in that branch "
                                                           "(default: today)"})
    home_area = Code(load_default=None, allow_none=True,
                     metadata={"description": "Residential community (双报到)"})


class PersonUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(1, 100))
    kind = ma.fields.String(validate=kind_validator)
    phone = ma.fields.String(allow_none=True, validate=phone_validator)
    volunteer_number = ma.fields.String(allow_none=True, validate=validate.Length(max=64))
    branch = Code(allow_none=True,
                  metadata={"description": "Move to this organisation (history is kept)"})
    branch_since = ma.fields.Date(allow_none=True)
    home_area = Code(allow_none=True)
    active = ma.fields.Boolean()


class MembershipOutSchema(ma.Schema):
    organisation = ma.fields.Function(lambda m: m.organisation.code)
    started_on = ma.fields.Date()
    ended_on = ma.fields.Date(allow_none=True)


class PersonOutSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    phone_masked = ma.fields.String(allow_none=True)
    volunteer_number = ma.fields.String(allow_none=True)
    branch = ma.fields.Function(lambda p: p.current_branch.code if p.current_branch else None)
    home_area = ma.fields.Function(lambda p: p.home_area.code if p.home_area else None)
    active = ma.fields.Boolean()
    memberships = ma.fields.List(ma.fields.Nested(MembershipOutSchema))
    credited_hours_total = ma.fields.Method("_credited_hours", metadata={
        "description": "Hours credited over all time"})
    star_level = ma.fields.Method("_star_level", metadata={
        "description": "Volunteer star level (志愿者星级), 0-5, from the hours credited "
                       "(STAR_LEVEL_HOURS)"})

    def _standing(self, person):
        # A list fills it for its page in one query; a single read asks.
        if getattr(person, "standing", None) is None:
            from server.people.star_levels import standings
            person.standing = standings([person.id])[person.id]
        return person.standing

    def _credited_hours(self, person):
        return self._standing(person).credited_hours

    def _star_level(self, person):
        return self._standing(person).star_level
