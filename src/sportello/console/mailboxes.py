"""The Console's mailboxes (Channels): the addresses the desk receives mail at, each with its
department and the IMAP account it is read from; creating, editing (a form carries the
mailbox's fingerprint: a save over someone else's change is refused), deactivating and
reactivating one; "Test connection" tries the form's settings, unsaved; and how an MTA delivers
instead (the inbound endpoint's address), with the addresses that route to each department.
Every write goes through `channels.mailboxes`; the probe is `channels.imap.mailbox_probe`. The
IMAP password is write-only: never rendered, left blank to keep the stored one."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sportello.accounts import selectors as accounts_selectors
from sportello.accounts.models import Department
from sportello.channels import imap
from sportello.channels import mailboxes as services
from sportello.channels.imap import ProbeFailure, ProbeResult
from sportello.channels.models import ImapSecurity, Mailbox
from sportello.core import clock
from sportello.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from sportello.core.http import HtmxRequest

from .views import admin_required, current_admin, render_console

SECURITY_CHOICES = [
    (ImapSecurity.SSL.value, pgettext_lazy("imap security", "TLS (port 993)")),
    (ImapSecurity.STARTTLS.value, pgettext_lazy("imap security", "STARTTLS (port 143)")),
    (ImapSecurity.NONE.value, pgettext_lazy("imap security", "None (loopback host only)")),
]
IMAP_FIELDS = (
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_username",
    "imap_password",
    "imap_folder",
    "imap_take_read",
)
PROBE_FAILURES: dict[ProbeFailure, Any] = {
    ProbeFailure.DNS: gettext_lazy("The host name does not resolve (DNS)."),
    ProbeFailure.REFUSED: gettext_lazy("The server refused the connection: nothing listens on that port."),
    ProbeFailure.NETWORK: gettext_lazy("The network connection failed."),
    ProbeFailure.TIMEOUT: gettext_lazy("The server did not answer in time."),
    ProbeFailure.TLS: gettext_lazy("The secure connection (TLS) failed: check the security and the port."),
    ProbeFailure.AUTH: gettext_lazy("The server refused the user name or the password."),
    ProbeFailure.FOLDER: gettext_lazy("Signed in, but the folder cannot be opened: check its name."),
    ProbeFailure.PROTOCOL: gettext_lazy("The server's answer was not what an IMAP server says."),
}


class DepartmentChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class MailboxForm(forms.Form):
    """What an admin types, checked for shape; `channels.mailboxes` checks the rest."""

    address = forms.CharField(
        label=gettext_lazy("Address"),
        max_length=254,
        help_text=gettext_lazy("The e-mail address customers write to, like returns@shop.example."),
    )
    department = DepartmentChoice(
        label=gettext_lazy("Department"),
        queryset=Department.objects.filter(is_active=True).order_by("name", "pk"),
        help_text=gettext_lazy("New tickets from this address go to this department."),
    )
    imap_host = forms.CharField(
        label=gettext_lazy("IMAP server"),
        max_length=255,
        required=False,
        help_text=gettext_lazy(
            "Host name or IP address, like imap.shop.example. Leave it empty when an MTA delivers this "
            "address's mail to the desk instead."
        ),
    )
    imap_port = forms.IntegerField(label=gettext_lazy("Port"), min_value=1, max_value=65535, initial=993)
    imap_security = forms.ChoiceField(
        label=gettext_lazy("Security"), choices=SECURITY_CHOICES, initial=ImapSecurity.SSL.value
    )
    imap_username = forms.CharField(label=gettext_lazy("User name"), max_length=255, required=False)
    imap_password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=500,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    imap_folder = forms.CharField(label=gettext_lazy("Folder"), max_length=200, initial="INBOX")
    imap_take_read = forms.BooleanField(
        label=gettext_lazy("Also take messages already read"),
        required=False,
        help_text=gettext_lazy(
            "On the first read of the folder, messages already marked read become tickets too. "
            "Leave it off for an account with old mail."
        ),
    )
    expected = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, mailbox: Mailbox | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.mailbox = mailbox
        password = self.fields["imap_password"]
        if mailbox is not None and mailbox.imap_password:
            password.help_text = _(
                "A password is stored. Leave this empty to keep it; type one to replace it."
            )
        else:
            password.help_text = _("Required to read the mailbox over IMAP. It is never shown again.")

    def data_for(self, names: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The cleaned values as the service takes them; a blank password on a stored
        mailbox is left out (the stored one stays)."""
        cleaned = self.cleaned_data
        data: dict[str, Any] = {
            "address": cleaned.get("address", ""),
            "department_id": cleaned["department"].pk if cleaned.get("department") else None,
            "imap_host": cleaned.get("imap_host", ""),
            "imap_port": cleaned.get("imap_port") or 993,
            "imap_security": cleaned.get("imap_security") or ImapSecurity.SSL.value,
            "imap_username": cleaned.get("imap_username", ""),
            "imap_password": cleaned.get("imap_password", ""),
            "imap_folder": cleaned.get("imap_folder") or "INBOX",
            "imap_take_read": bool(cleaned.get("imap_take_read")),
        }
        if self.mailbox is not None and not data["imap_password"]:
            del data["imap_password"]
        if names is not None:
            data = {k: v for k, v in data.items() if k in names}
        return data


def initial_of(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "address": mailbox.address,
        "department": mailbox.department_id,
        "imap_host": mailbox.imap_host,
        "imap_port": mailbox.imap_port,
        "imap_security": mailbox.imap_security,
        "imap_username": mailbox.imap_username,
        "imap_folder": mailbox.imap_folder,
        "imap_take_read": mailbox.imap_take_read,
        "expected": services.mailbox_fingerprint(mailbox),
    }


def error_text(exc: DomainError) -> str:
    """A service's refusal about a mailbox in the admin's language."""
    field = exc.field or ""
    if isinstance(exc, Conflict):
        if field == "address":
            return _("A mailbox for this address exists already.")
        if field == "expected":
            return _(
                "Someone else changed this mailbox while you were editing it: nothing was saved. "
                "What you typed is kept below, with what is saved now where it differs."
            )
    if isinstance(exc, ValidationFailed):
        texts = {
            "address": _("Enter a valid e-mail address."),
            "department_id": _("Choose an active department."),
            "imap_host": _("Enter a host name or an IP address alone, without scheme, port, path or user."),
            "imap_port": _("Enter a port between 1 and 65535."),
            "imap_username": _("Required to read the mailbox over IMAP."),
            "imap_password": _("Required to read the mailbox over IMAP."),
            "imap_folder": _("Enter a folder name, without control characters."),
        }
        if field == "imap_security" and "clear text" in exc.message:
            return _(
                "Without TLS the password would travel in clear text: only a loopback host "
                "(127.0.0.1, ::1, localhost) may use no security."
            )
        if field == "imap_host" and "test the connection" in exc.message:
            return _("Enter the IMAP server to test the connection.")
        if field in texts:
            return texts[field]
    return exc.message


def attach(form: MailboxForm, exc: DomainError) -> None:
    """Put the refusal next to the field it concerns, else at the top of the form."""
    field = {"department_id": "department", "expected": None}.get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, error_text(exc))


def mta_endpoint() -> str:
    """Where an MTA posts the raw messages it receives (`/api/v1/mail/inbound`)."""
    return str(settings.SPORTELLO["PUBLIC_URL"]).rstrip("/") + "/api/v1/mail/inbound"


def routes(mailboxes: list[Mailbox], departments: list[Department]) -> list[dict[str, Any]]:
    """Each active department with the addresses that route mail to it: its active mailboxes
    and its own address."""
    rows = []
    for department in departments:
        addresses = [m.address for m in mailboxes if m.active and m.department_id == department.pk]
        own = department.email.lower() if department.email else ""
        rows.append({"department": department, "addresses": addresses, "own": own})
    return rows


@admin_required
@require_http_methods(["GET"])
def mailbox_list(request: HttpRequest) -> HttpResponse:
    """Every mailbox with its department, IMAP server, last read and last error; the MTA's
    endpoint; the addresses routing to each department."""
    me = current_admin(request)
    rows = list(services.mailbox_list(principal=me))
    departments = list(accounts_selectors.department_list(user=me, is_active=True))
    example = rows[0].address if rows else "returns@shop.example"
    context = {
        "section": "mailboxes",
        "now": clock.now(),
        "mailboxes": rows,
        "routes": routes(rows, departments),
        "mta_endpoint": mta_endpoint(),
        "example_recipient": example,
        "example_alias": example.split("@", 1)[0],
    }
    return render_console(request, "console/channels/mailboxes.html", context)


def _form_page(
    request: HttpRequest, form: MailboxForm, mailbox: Mailbox | None, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"section": "mailboxes", "form": form, "mailbox": mailbox, "now": clock.now(), **extra}
    return render_console(request, "console/channels/mailbox_form.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def mailbox_create(request: HttpRequest) -> HttpResponseBase:
    form = MailboxForm(request.POST if request.method == "POST" else None)
    if request.method != "POST":
        return _form_page(request, form, None)
    if form.is_valid():
        try:
            mailbox = services.mailbox_create(
                actor=current_admin(request), data=form.data_for(), now=clock.now()
            )
        except DomainError as exc:
            attach(form, exc)
            return _form_page(request, form, None, status=409 if isinstance(exc, Conflict) else 422)
        messages.success(request, _("Mailbox %(address)s created.") % {"address": mailbox.address})
        return redirect("console:mailboxes")
    return _form_page(request, form, None, status=422)


def _get(request: HttpRequest, mailbox_id: int) -> Mailbox:
    try:
        return services.mailbox_get(principal=current_admin(request), mailbox_id=mailbox_id)
    except NotFound:
        raise Http404 from None


@admin_required
@require_http_methods(["GET", "POST"])
def mailbox_edit(request: HttpRequest, mailbox_id: int) -> HttpResponseBase:
    """GET: the form, drawn from the mailbox with its fingerprint. POST: save; a stale form is
    refused, the current settings shown with the refusal."""
    mailbox = _get(request, mailbox_id)
    if request.method != "POST":
        return _form_page(request, MailboxForm(initial=initial_of(mailbox), mailbox=mailbox), mailbox)
    form = MailboxForm(request.POST, mailbox=mailbox)
    if form.is_valid():
        try:
            services.mailbox_update(
                actor=current_admin(request),
                mailbox_id=mailbox.pk,
                data=form.data_for(),
                now=clock.now(),
                expected=form.cleaned_data.get("expected") or "",
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            if exc.field == "expected":
                return _stale(request, form, _get(request, mailbox_id), exc)
            attach(form, exc)
            return _form_page(request, form, mailbox, status=409 if isinstance(exc, Conflict) else 422)
        else:
            messages.success(
                request, _("Mailbox %(address)s saved.") % {"address": form.cleaned_data["address"]}
            )
            return redirect("console:mailboxes")
    return _form_page(request, form, mailbox, status=422)


def _stale(request: HttpRequest, typed: MailboxForm, current: Mailbox, exc: DomainError) -> HttpResponse:
    """A save over someone else's change: what the admin typed stays in the form (now carrying
    the current fingerprint, so saving again overwrites deliberately), with what is saved now
    where it differs."""
    data = request.POST.copy()
    data["expected"] = services.mailbox_fingerprint(current)
    form = MailboxForm(data, mailbox=current)
    form.is_valid()
    form.add_error(None, error_text(exc))
    saved = initial_of(current)
    changes = []
    for name in ("address", "department", *IMAP_FIELDS):
        if name == "imap_password":
            continue
        mine = typed.cleaned_data.get(name)
        theirs: Any = saved[name]
        if name == "department":
            mine = mine.pk if mine is not None else None
            theirs = current.department.name
            if mine == current.department_id:
                continue
        elif mine == theirs:
            continue
        if name == "imap_security":
            theirs = dict(SECURITY_CHOICES).get(theirs, theirs)
        if isinstance(theirs, bool):
            theirs = _("Yes") if theirs else _("No")
        changes.append({"label": form.fields[name].label, "saved": theirs if theirs != "" else "—"})
    return _form_page(request, form, current, status=409, changes=changes)


@admin_required
@require_http_methods(["POST"])
def mailbox_active(request: HttpRequest, mailbox_id: int) -> HttpResponseBase:
    """`active=0` deactivates the mailbox (no longer read; what it received stays), `active=1`
    reactivates it; either, already so, changes nothing."""
    me, now = current_admin(request), clock.now()
    try:
        if request.POST.get("active") == "1":
            mailbox = services.mailbox_reactivate(actor=me, mailbox_id=mailbox_id, now=now)
            messages.success(
                request, _("Mailbox %(address)s is active again.") % {"address": mailbox.address}
            )
        else:
            mailbox = services.mailbox_deactivate(actor=me, mailbox_id=mailbox_id, now=now)
            messages.success(
                request,
                _("Mailbox %(address)s deactivated: it is no longer read; what it received stays.")
                % {"address": mailbox.address},
            )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, error_text(exc))
    return redirect(reverse("console:mailboxes") + f"#mailbox-{mailbox_id}")


def probe_view(result: ProbeResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "messages": result.messages,
        "summary": PROBE_FAILURES.get(result.failure, "") if result.failure is not None else "",
        "detail": result.detail,
        "seconds": round(result.seconds, 1),
    }


@admin_required
@never_cache
@require_http_methods(["POST"])
def mailbox_test(request: HtmxRequest) -> HttpResponse:
    """Test connection with the form's settings (nothing saved). HTMX: the result alone;
    without JavaScript, the form again (without the password) with the result."""
    mailbox_id = request.POST.get("mailbox") or ""
    mailbox = _get(request, int(mailbox_id)) if mailbox_id.isdigit() else None
    form = MailboxForm(request.POST, mailbox=mailbox)
    probe: dict[str, Any] | None = None
    error = ""
    form.is_valid()  # the IMAP fields are read even when, say, the address is not valid yet
    imap_errors = [name for name in IMAP_FIELDS if name in form.errors]
    if imap_errors:
        error = _("Correct the IMAP settings first: %(fields)s.") % {
            "fields": ", ".join(str(form.fields[name].label) for name in imap_errors)
        }
    else:
        try:
            result = imap.mailbox_probe(
                actor=current_admin(request),
                data=form.data_for(IMAP_FIELDS),
                mailbox_id=mailbox.pk if mailbox is not None else None,
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            error = error_text(exc)
        else:
            probe = probe_view(result)
    if request.htmx:
        return render(request, "console/channels/_mailbox_probe.html", {"probe": probe, "probe_error": error})
    return _form_page(request, form, mailbox, probe=probe, probe_error=error)


urlpatterns = [
    path("mailboxes/", mailbox_list, name="mailboxes"),
    path("mailboxes/new/", mailbox_create, name="mailbox_create"),
    path("mailboxes/test/", mailbox_test, name="mailbox_test"),
    path("mailboxes/<int:mailbox_id>/", mailbox_edit, name="mailbox"),
    path("mailboxes/<int:mailbox_id>/active/", mailbox_active, name="mailbox_active"),
]
