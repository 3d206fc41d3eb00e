"""The notification templates the desk ships, in English, Spanish and Italian.

A default is used for a (key, language) that has no active admin override
(`models.NotificationTemplate`); deleting the override restores it. The placeholders are the
names of `notifications.context` (documented in docs/notifications.md). Customer texts sign
with the department's name; the agent's name appears only where an agent wrote the message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TemplateText:
    subject: str
    body_text: str
    body_html: str = ""


@dataclass(frozen=True, slots=True)
class TemplateKey:
    key: str
    audience: str  # customer | agent: who it is written for
    description: str


KEYS: dict[str, TemplateKey] = {
    k.key: k
    for k in (
        TemplateKey("ticket_received", "customer", "To the customer when they open a ticket."),
        TemplateKey(
            "agent_reply", "customer", "The e-mail around an agent's public reply ({{ message.body }})."
        ),
        TemplateKey("status_changed", "customer", "To the customer when the ticket's status changes."),
        TemplateKey("solution_under_test", "customer", "To the customer: a fix is being tested."),
        TemplateKey(
            "shipment_status",
            "customer",
            "To the customer: shipment update (ticket.custom.shipment_status, carrier, tracking_number).",
        ),
        TemplateKey("sla_warning", "agent", "To the assignee or team: the SLA target is near."),
        TemplateKey("satisfaction_survey", "customer", "To the customer: rate the support, with a link."),
        TemplateKey(
            "survey_request",
            "customer",
            "The satisfaction survey, sent after the ticket is solved: one link per rating "
            "({{ survey.choices }}) and the survey's page ({{ links.survey }}).",
        ),
        TemplateKey("survey_reminder", "customer", "The one reminder of an unanswered satisfaction survey."),
    )
}

_SHIPMENT_DETAILS = {
    "en": ("Status", "Carrier", "Tracking number"),
    "es": ("Estado", "Transportista", "Número de seguimiento"),
    "it": ("Stato", "Corriere", "Numero di tracciamento"),
}


def _shipment_details(language: str) -> str:
    status, carrier, tracking = _SHIPMENT_DETAILS[language]
    return (
        "{% if ticket.custom.shipment_status %}\n"
        f"{status}: {{{{ ticket.custom.shipment_status }}}}{{% endif %}}"
        "{% if ticket.custom.carrier %}\n"
        f"{carrier}: {{{{ ticket.custom.carrier }}}}{{% endif %}}"
        "{% if ticket.custom.tracking_number %}\n"
        f"{tracking}: {{{{ ticket.custom.tracking_number }}}}{{% endif %}}"
    )


DEFAULTS: dict[tuple[str, str], TemplateText] = {
    # -- ticket_received
    ("ticket_received", "en"): TemplateText(
        subject="[#{{ ticket.number }}] We received your request: {{ ticket.subject }}",
        body_text=(
            "Hello {{ requester.name }},\n\n"
            "Thank you for contacting us. We have received your request and opened ticket "
            '#{{ ticket.number }}, "{{ ticket.subject }}". Our {{ department.name }} team will get '
            "back to you as soon as possible.\n\n"
            "{% if links.ticket %}You can follow your request here: {{ links.ticket }}\n{% endif %}"
            "To add information, simply reply to this e-mail.\n\n"
            "Kind regards,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("ticket_received", "es"): TemplateText(
        subject="[#{{ ticket.number }}] Hemos recibido su solicitud: {{ ticket.subject }}",
        body_text=(
            "Hola, {{ requester.name }}:\n\n"
            "Gracias por contactar con nosotros. Hemos recibido su solicitud y hemos abierto el "
            "ticket n.º {{ ticket.number }}, «{{ ticket.subject }}». El equipo de "
            "{{ department.name }} le responderá lo antes posible.\n\n"
            "{% if links.ticket %}Puede seguir su solicitud aquí: {{ links.ticket }}\n{% endif %}"
            "Si desea añadir información, basta con responder a este correo.\n\n"
            "Atentamente,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("ticket_received", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Abbiamo ricevuto la sua richiesta: {{ ticket.subject }}",
        body_text=(
            "Gentile {{ requester.name }},\n\n"
            "grazie per averci contattato. Abbiamo ricevuto la sua richiesta e aperto il ticket "
            "n. {{ ticket.number }}, «{{ ticket.subject }}». Il team {{ department.name }} le "
            "risponderà il prima possibile.\n\n"
            "{% if links.ticket %}Può seguire la sua richiesta qui: {{ links.ticket }}\n{% endif %}"
            "Per aggiungere informazioni, è sufficiente rispondere a questa e-mail.\n\n"
            "Cordiali saluti,\n"
            "{{ department.name }}\n"
        ),
    ),
    # -- agent_reply
    ("agent_reply", "en"): TemplateText(
        subject="[#{{ ticket.number }}] {{ ticket.subject }}",
        body_text=(
            "{{ message.body }}\n\n"
            "--\n"
            "{% if agent.signature %}{{ agent.signature }}\n\n{% else %}"
            "{{ agent.name }}\n"
            "{{ department.name }}\n\n{% endif %}"
            "{% if links.ticket %}Ticket #{{ ticket.number }}: {{ links.ticket }}\n{% endif %}"
            "To reply, simply answer this e-mail.\n"
        ),
    ),
    ("agent_reply", "es"): TemplateText(
        subject="[#{{ ticket.number }}] {{ ticket.subject }}",
        body_text=(
            "{{ message.body }}\n\n"
            "--\n"
            "{% if agent.signature %}{{ agent.signature }}\n\n{% else %}"
            "{{ agent.name }}\n"
            "{{ department.name }}\n\n{% endif %}"
            "{% if links.ticket %}Ticket n.º {{ ticket.number }}: {{ links.ticket }}\n{% endif %}"
            "Para responder, basta con contestar a este correo.\n"
        ),
    ),
    ("agent_reply", "it"): TemplateText(
        subject="[#{{ ticket.number }}] {{ ticket.subject }}",
        body_text=(
            "{{ message.body }}\n\n"
            "--\n"
            "{% if agent.signature %}{{ agent.signature }}\n\n{% else %}"
            "{{ agent.name }}\n"
            "{{ department.name }}\n\n{% endif %}"
            "{% if links.ticket %}Ticket n. {{ ticket.number }}: {{ links.ticket }}\n{% endif %}"
            "Per rispondere, è sufficiente rispondere a questa e-mail.\n"
        ),
    ),
    # -- status_changed
    ("status_changed", "en"): TemplateText(
        subject="[#{{ ticket.number }}] Status update: {{ ticket.status_name }}",
        body_text=(
            "Hello {{ requester.name }},\n\n"
            'The status of your request #{{ ticket.number }}, "{{ ticket.subject }}", is now: '
            "{{ ticket.status_name }}.\n\n"
            "{% if links.ticket %}You can see the details here: {{ links.ticket }}\n\n{% endif %}"
            "Kind regards,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("status_changed", "es"): TemplateText(
        subject="[#{{ ticket.number }}] Actualización de estado: {{ ticket.status_name }}",
        body_text=(
            "Hola, {{ requester.name }}:\n\n"
            "El estado de su solicitud n.º {{ ticket.number }}, «{{ ticket.subject }}», ha "
            "cambiado a: {{ ticket.status_name }}.\n\n"
            "{% if links.ticket %}Puede ver los detalles aquí: {{ links.ticket }}\n\n{% endif %}"
            "Atentamente,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("status_changed", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Aggiornamento di stato: {{ ticket.status_name }}",
        body_text=(
            "Gentile {{ requester.name }},\n\n"
            "lo stato della sua richiesta n. {{ ticket.number }}, «{{ ticket.subject }}», è ora: "
            "{{ ticket.status_name }}.\n\n"
            "{% if links.ticket %}Può consultare i dettagli qui: {{ links.ticket }}\n\n{% endif %}"
            "Cordiali saluti,\n"
            "{{ department.name }}\n"
        ),
    ),
    # -- solution_under_test
    ("solution_under_test", "en"): TemplateText(
        subject="[#{{ ticket.number }}] We are testing a solution",
        body_text=(
            "Hello {{ requester.name }},\n\n"
            "We have prepared a solution for your request #{{ ticket.number }}, "
            '"{{ ticket.subject }}", and we are now testing it. We will let you know as soon as '
            "the test is complete.\n\n"
            "If you notice anything in the meantime, simply reply to this e-mail.\n\n"
            "Kind regards,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("solution_under_test", "es"): TemplateText(
        subject="[#{{ ticket.number }}] Estamos probando una solución",
        body_text=(
            "Hola, {{ requester.name }}:\n\n"
            "Hemos preparado una solución para su solicitud n.º {{ ticket.number }}, "
            "«{{ ticket.subject }}», y la estamos probando. Le avisaremos en cuanto terminen las "
            "pruebas.\n\n"
            "Si mientras tanto observa cualquier cosa, basta con responder a este correo.\n\n"
            "Atentamente,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("solution_under_test", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Stiamo verificando una soluzione",
        body_text=(
            "Gentile {{ requester.name }},\n\n"
            "abbiamo preparato una soluzione per la sua richiesta n. {{ ticket.number }}, "
            "«{{ ticket.subject }}», e la stiamo verificando. La avviseremo non appena la verifica "
            "sarà completata.\n\n"
            "Se nel frattempo nota qualcosa, è sufficiente rispondere a questa e-mail.\n\n"
            "Cordiali saluti,\n"
            "{{ department.name }}\n"
        ),
    ),
    # -- shipment_status
    ("shipment_status", "en"): TemplateText(
        subject="[#{{ ticket.number }}] Shipment update",
        body_text=(
            "Hello {{ requester.name }},\n\n"
            'Here is an update on the shipment for your request #{{ ticket.number }}, "{{ ticket.subject }}".'
            + _shipment_details("en")
            + "\n\n{% if links.ticket %}You can follow your request here: {{ links.ticket }}\n\n{% endif %}"
            "Kind regards,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("shipment_status", "es"): TemplateText(
        subject="[#{{ ticket.number }}] Actualización del envío",
        body_text=(
            "Hola, {{ requester.name }}:\n\n"
            "Le informamos sobre el envío de su solicitud n.º {{ ticket.number }}, «{{ ticket.subject }}»."
            + _shipment_details("es")
            + "\n\n{% if links.ticket %}Puede seguir su solicitud aquí: {{ links.ticket }}\n\n{% endif %}"
            "Atentamente,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("shipment_status", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Aggiornamento sulla spedizione",
        body_text=(
            "Gentile {{ requester.name }},\n\n"
            "ecco un aggiornamento sulla spedizione relativa alla sua richiesta n. {{ ticket.number }}, "
            "«{{ ticket.subject }}»."
            + _shipment_details("it")
            + "\n\n{% if links.ticket %}Può seguire la sua richiesta qui: {{ links.ticket }}\n\n{% endif %}"
            "Cordiali saluti,\n"
            "{{ department.name }}\n"
        ),
    ),
    # -- sla_warning (to agents)
    ("sla_warning", "en"): TemplateText(
        subject="[#{{ ticket.number }}] SLA warning: {{ sla.time_left }} left",
        body_text=(
            'Ticket #{{ ticket.number }}, "{{ ticket.subject }}", is close to its SLA target.\n\n'
            "Policy: {{ sla.policy }}\n"
            "Due: {{ sla.due_at }}\n"
            "Time left: {{ sla.time_left }}\n"
            "Priority: {{ ticket.priority_name }}\n"
            "Assignee: {{ agent.name }}\n\n"
            "Open the ticket: {{ links.agent_ticket }}\n"
        ),
    ),
    ("sla_warning", "es"): TemplateText(
        subject="[#{{ ticket.number }}] Aviso de SLA: quedan {{ sla.time_left }}",
        body_text=(
            "El ticket n.º {{ ticket.number }}, «{{ ticket.subject }}», está cerca de su objetivo "
            "de SLA.\n\n"
            "Política: {{ sla.policy }}\n"
            "Vencimiento: {{ sla.due_at }}\n"
            "Tiempo restante: {{ sla.time_left }}\n"
            "Prioridad: {{ ticket.priority_name }}\n"
            "Asignado a: {{ agent.name }}\n\n"
            "Abrir el ticket: {{ links.agent_ticket }}\n"
        ),
    ),
    ("sla_warning", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Avviso SLA: restano {{ sla.time_left }}",
        body_text=(
            "Il ticket n. {{ ticket.number }}, «{{ ticket.subject }}», è vicino alla scadenza "
            "prevista dallo SLA.\n\n"
            "Politica: {{ sla.policy }}\n"
            "Scadenza: {{ sla.due_at }}\n"
            "Tempo rimanente: {{ sla.time_left }}\n"
            "Priorità: {{ ticket.priority_name }}\n"
            "Assegnatario: {{ agent.name }}\n\n"
            "Apri il ticket: {{ links.agent_ticket }}\n"
        ),
    ),
    # -- satisfaction_survey
    ("satisfaction_survey", "en"): TemplateText(
        subject="[#{{ ticket.number }}] How did we do?",
        body_text=(
            "Hello {{ requester.name }},\n\n"
            'Your request #{{ ticket.number }}, "{{ ticket.subject }}", has been resolved. We would '
            "like to know how we did: it takes less than a minute.\n\n"
            "{% if links.survey %}Rate our support: {{ links.survey }}\n\n{% endif %}"
            "Thank you,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("satisfaction_survey", "es"): TemplateText(
        subject="[#{{ ticket.number }}] ¿Qué tal le hemos atendido?",
        body_text=(
            "Hola, {{ requester.name }}:\n\n"
            "Su solicitud n.º {{ ticket.number }}, «{{ ticket.subject }}», se ha resuelto. Nos "
            "gustaría conocer su opinión sobre nuestra atención; le llevará menos de un minuto.\n\n"
            "{% if links.survey %}Valore nuestra atención: {{ links.survey }}\n\n{% endif %}"
            "Gracias,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("satisfaction_survey", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Com'è andata?",
        body_text=(
            "Gentile {{ requester.name }},\n\n"
            "la sua richiesta n. {{ ticket.number }}, «{{ ticket.subject }}», è stata risolta. Ci "
            "farebbe piacere conoscere la sua opinione sul nostro servizio: ci vorrà meno di un "
            "minuto.\n\n"
            "{% if links.survey %}Valuti il nostro supporto: {{ links.survey }}\n\n{% endif %}"
            "Grazie,\n"
            "{{ department.name }}\n"
        ),
    ),
    # -- survey_request (surveys: `survey.choices` are one-click links, one per rating)
    ("survey_request", "en"): TemplateText(
        subject="[#{{ ticket.number }}] How did we do?",
        body_text=(
            "Hello {{ requester.name }},\n\n"
            'Your request #{{ ticket.number }}, "{{ ticket.subject }}", has been solved. How would you '
            "rate the support you received? One click is enough:\n\n"
            "{% for choice in survey.choices %}{{ choice.label }}:\n{{ choice.url }}\n\n{% endfor %}"
            "You can add a comment after choosing.\n\n"
            "Thank you,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("survey_request", "es"): TemplateText(
        subject="[#{{ ticket.number }}] ¿Qué tal le hemos atendido?",
        body_text=(
            "Hola, {{ requester.name }}:\n\n"
            "Su solicitud n.º {{ ticket.number }}, «{{ ticket.subject }}», se ha resuelto. ¿Cómo valora "
            "la atención recibida? Basta con un clic:\n\n"
            "{% for choice in survey.choices %}{{ choice.label }}:\n{{ choice.url }}\n\n{% endfor %}"
            "Después podrá añadir un comentario.\n\n"
            "Gracias,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("survey_request", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Com'è andata?",
        body_text=(
            "Gentile {{ requester.name }},\n\n"
            "la sua richiesta n. {{ ticket.number }}, «{{ ticket.subject }}», è stata risolta. Come "
            "valuta l'assistenza ricevuta? Basta un clic:\n\n"
            "{% for choice in survey.choices %}{{ choice.label }}:\n{{ choice.url }}\n\n{% endfor %}"
            "Dopo la scelta potrà aggiungere un commento.\n\n"
            "Grazie,\n"
            "{{ department.name }}\n"
        ),
    ),
    # -- survey_reminder
    ("survey_reminder", "en"): TemplateText(
        subject="[#{{ ticket.number }}] A reminder: how did we do?",
        body_text=(
            "Hello {{ requester.name }},\n\n"
            'We have not heard from you about request #{{ ticket.number }}, "{{ ticket.subject }}". '
            "If you have a moment, one click tells us how we did:\n\n"
            "{% for choice in survey.choices %}{{ choice.label }}:\n{{ choice.url }}\n\n{% endfor %}"
            "This is our only reminder.\n\n"
            "Thank you,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("survey_reminder", "es"): TemplateText(
        subject="[#{{ ticket.number }}] Recordatorio: ¿qué tal le hemos atendido?",
        body_text=(
            "Hola, {{ requester.name }}:\n\n"
            "Aún no sabemos su opinión sobre la solicitud n.º {{ ticket.number }}, «{{ ticket.subject }}». "
            "Si tiene un momento, un clic basta para decirnos qué tal lo hicimos:\n\n"
            "{% for choice in survey.choices %}{{ choice.label }}:\n{{ choice.url }}\n\n{% endfor %}"
            "Este es nuestro único recordatorio.\n\n"
            "Gracias,\n"
            "{{ department.name }}\n"
        ),
    ),
    ("survey_reminder", "it"): TemplateText(
        subject="[#{{ ticket.number }}] Promemoria: com'è andata?",
        body_text=(
            "Gentile {{ requester.name }},\n\n"
            "non abbiamo ancora ricevuto la sua opinione sulla richiesta n. {{ ticket.number }}, "
            "«{{ ticket.subject }}». Se ha un momento, basta un clic per dirci com'è andata:\n\n"
            "{% for choice in survey.choices %}{{ choice.label }}:\n{{ choice.url }}\n\n{% endfor %}"
            "Questo è il nostro unico promemoria.\n\n"
            "Grazie,\n"
            "{{ department.name }}\n"
        ),
    ),
}


def default_text(key: str, language: str) -> TemplateText | None:
    """The shipped text of `key` in `language`, or None."""
    return DEFAULTS.get((key, language))
