"""Import every model so that Alembic and the app see one complete metadata."""
from server.activities.models import Activity, AttendanceLeave  # noqa: F401
from server.audit.models import AuditEntry  # noqa: F401
from server.auth.models import ApiToken, RoleGrant, User  # noqa: F401
from server.checkins.models import CheckinEvent, DeviceSeqRange, QuarantinedEvent  # noqa: F401
from server.corrections.models import CorrectionRequest  # noqa: F401
from server.devices.models import Device  # noqa: F401
from server.displays.models import StationDisplay  # noqa: F401
from server.org.models import Area, Membership, Organisation  # noqa: F401
from server.pairing.models import PairingDue, PairingWorker  # noqa: F401
from server.people.models import Person, PersonInvitation  # noqa: F401
from server.qr.models import SigningKey  # noqa: F401
from server.totals.models import BranchPeriodTotal, PeriodMover, PersonBranchPeriod  # noqa: F401
from server.service_sessions.models import RetroactiveEntry, Review, ServiceSession  # noqa: F401
from server.stations.models import Station  # noqa: F401
from server.sync_feed.models import SyncChange, SyncCounter  # noqa: F401
