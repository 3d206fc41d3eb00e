"""The demo desk as plain data: who works there, who writes in, and what they write about.

Texts use `str.format` placeholders: {first} (the customer's first name), {agent} (the agent's
first name), {order} (an order number), {product} (a product code), {number} (the ticket number).
Every e-mail domain is under `.example`, reserved for documentation: nothing can ever be delivered.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "es", "it")
LANGUAGE_WEIGHTS = (0.5, 0.25, 0.25)

# name, e-mail, description
DEPARTMENTS = [
    ("Returns", "returns@shop.example", "Refunds and returns of unwanted or faulty items."),
    ("Exchanges", "exchanges@shop.example", "Swaps for another size, colour or model."),
    ("Billing", "billing@shop.example", "Invoices, payments, refunds to cards, VAT."),
    ("Technical Support", "support@shop.example", "Devices that do not work as they should."),
    ("Books", "books@shop.example", "Orders of printed books and e-books."),
    ("Electronics", "electronics@shop.example", "Orders of phones, computers, audio and TV."),
]
# How the incoming work is shared between departments (same order as DEPARTMENTS).
DEPARTMENT_WEIGHTS = (0.22, 0.12, 0.16, 0.2, 0.14, 0.16)

# name, e-mail, role, language, departments
AGENTS = [
    ("Giulia Romano", "giulia.romano@shop.example", "admin", "it", ()),
    ("Martin Keller", "martin.keller@shop.example", "admin", "en", ()),
    ("Sofia Esposito", "sofia.esposito@shop.example", "agent", "it", ("Returns", "Exchanges")),
    ("Luca Ferrari", "luca.ferrari@shop.example", "agent", "it", ("Returns", "Billing")),
    ("Elena García", "elena.garcia@shop.example", "agent", "es", ("Exchanges", "Returns")),
    ("Javier Morales", "javier.morales@shop.example", "agent", "es", ("Billing",)),
    ("Chloe Bennett", "chloe.bennett@shop.example", "agent", "en", ("Billing", "Books")),
    ("Daniel Okafor", "daniel.okafor@shop.example", "agent", "en", ("Technical Support",)),
    ("Priya Nair", "priya.nair@shop.example", "agent", "en", ("Technical Support", "Electronics")),
    ("Tom Whitaker", "tom.whitaker@shop.example", "agent", "en", ("Books",)),
    ("Chiara Colombo", "chiara.colombo@shop.example", "agent", "it", ("Electronics", "Technical Support")),
    ("Aisha Rahman", "aisha.rahman@shop.example", "light_agent", "en", ("Billing", "Returns")),
    ("Noah Fischer", "noah.fischer@shop.example", "light_agent", "en", ("Technical Support", "Electronics")),
]

# department -> team names; members are the department's agents (assigned round robin)
TEAMS = {
    "Returns": ["Refunds", "Damaged items"],
    "Exchanges": ["Sizes and colours", "Warranty swaps"],
    "Billing": ["Invoices", "Payments"],
    "Technical Support": ["Replacements", "Setup help"],
    "Books": ["Fiction", "Textbooks"],
    "Electronics": ["Phones", "Computers and audio"],
}

# name, domains, tier, vip, language of its people
ORGANIZATIONS = [
    ("Northwind Traders", ["northwind.example"], "gold", True, "en"),
    ("Blue Harbor Hotels", ["blueharbor.example"], "platinum", True, "en"),
    ("Kestrel Schools Trust", ["kestrel-schools.example"], "silver", False, "en"),
    ("Maple & Finch Architects", ["maplefinch.example"], "standard", False, "en"),
    ("Distribuciones Levante", ["levante-dist.example"], "gold", False, "es"),
    ("Colegio San Isidro", ["sanisidro.example", "colegio-si.example"], "silver", False, "es"),
    ("Clínica Dental Aurora", ["clinica-aurora.example"], "standard", True, "es"),
    ("Studio Legale Marino", ["studiomarino.example"], "gold", True, "it"),
    ("Hotel Miramare Rimini", ["miramare-rimini.example"], "silver", False, "it"),
    ("Ferramenta Bassi", ["ferramentabassi.example"], "standard", False, "it"),
]
FREE_MAIL = {"en": "mailbox.example", "es": "correo.example", "it": "posta.example"}

FIRST_NAMES = {
    "en": [
        "Emma",
        "Oliver",
        "Amelia",
        "Harry",
        "Isla",
        "Jack",
        "Ava",
        "George",
        "Mia",
        "Noah",
        "Grace",
        "Leo",
        "Lily",
        "Arthur",
        "Freya",
        "Oscar",
        "Ella",
        "Henry",
        "Ruby",
        "Jacob",
    ],
    "es": [
        "Lucía",
        "Hugo",
        "María",
        "Martín",
        "Paula",
        "Pablo",
        "Carmen",
        "Alejandro",
        "Sara",
        "Daniel",
        "Valeria",
        "Diego",
        "Julia",
        "Adrián",
        "Marta",
        "Álvaro",
    ],
    "it": [
        "Francesca",
        "Alessandro",
        "Giorgia",
        "Lorenzo",
        "Martina",
        "Matteo",
        "Aurora",
        "Leonardo",
        "Alice",
        "Tommaso",
        "Beatrice",
        "Riccardo",
        "Ginevra",
        "Andrea",
        "Elisa",
        "Pietro",
    ],
}
LAST_NAMES = {
    "en": [
        "Smith",
        "Jones",
        "Taylor",
        "Brown",
        "Wilson",
        "Evans",
        "Thomas",
        "Roberts",
        "Walker",
        "Wright",
        "Hughes",
        "Green",
        "Hall",
        "Wood",
        "Clarke",
        "Patel",
        "Turner",
        "Murphy",
    ],
    "es": [
        "García",
        "Fernández",
        "González",
        "Rodríguez",
        "López",
        "Martínez",
        "Sánchez",
        "Pérez",
        "Gómez",
        "Ruiz",
        "Díaz",
        "Moreno",
        "Álvarez",
        "Romero",
        "Navarro",
        "Torres",
    ],
    "it": [
        "Rossi",
        "Russo",
        "Ferraro",
        "Bianco",
        "Ricci",
        "Marino",
        "Greco",
        "Bruno",
        "Gallo",
        "Conti",
        "De Luca",
        "Costa",
        "Giordano",
        "Mancini",
        "Rizzo",
        "Lombardi",
    ],
}
PHONE_PREFIX = {"en": "+44 20 7946 ", "es": "+34 91 123 ", "it": "+39 02 8088 "}
TIME_ZONES = {"en": "Europe/London", "es": "Europe/Madrid", "it": "Europe/Rome"}

# Custom fields: key, label, type, options
CUSTOM_FIELDS: list[tuple[str, str, str, list[str]]] = [
    ("order_number", "Order number", "text", []),
    (
        "subcategory",
        "Subcategory",
        "picklist",
        [
            "novels",
            "textbooks",
            "childrens_books",
            "ebooks",
            "phones",
            "laptops",
            "audio",
            "televisions",
            "accessories",
        ],
    ),
    ("product_code", "Product code", "text", []),
    ("refund_method", "Refund method", "picklist", ["original_payment", "store_credit", "bank_transfer"]),
]
# department -> [(field key, required of agents: none | to_solve | always, allowed values or None)]
# Books and Electronics need a subcategory before an agent solves a ticket: customers' mail
# arrives without one and the agent classifies it when triaging.
LAYOUTS: dict[str, list[tuple[str, str, list[str] | None]]] = {
    "Returns": [("order_number", "none", None), ("refund_method", "none", None)],
    "Exchanges": [("order_number", "none", None), ("product_code", "none", None)],
    "Billing": [("order_number", "none", None), ("refund_method", "none", None)],
    "Technical Support": [("product_code", "none", None), ("order_number", "none", None)],
    "Books": [
        ("order_number", "none", None),
        ("subcategory", "to_solve", ["novels", "textbooks", "childrens_books", "ebooks"]),
    ],
    "Electronics": [
        ("order_number", "none", None),
        ("subcategory", "to_solve", ["phones", "laptops", "audio", "televisions", "accessories"]),
        ("product_code", "none", None),
    ],
}
SUBCATEGORIES = {
    "Books": ["novels", "textbooks", "childrens_books", "ebooks"],
    "Electronics": ["phones", "laptops", "audio", "televisions", "accessories"],
}
PRODUCT_PREFIXES = ["PH", "LT", "HP", "TV", "SP", "TB", "CH"]

# Per department: what customers write about. Each scenario has tags, a usual priority and
# the opening (subject, body) in every language.
SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "Returns": [
        {
            "tags": ["refund", "damaged"],
            "priority": "high",
            "en": (
                "Parcel arrived damaged, I want a refund",
                "Hello,\n\nmy order {order} arrived today with the box crushed and the item inside "
                "broken. I would like to return it and get my money back.\n\nThanks,\n{first}",
            ),
            "es": (
                "El paquete llegó dañado, quiero un reembolso",
                "Hola,\n\nmi pedido {order} llegó hoy con la caja aplastada y el artículo roto. "
                "Quisiera devolverlo y recuperar mi dinero.\n\nGracias,\n{first}",
            ),
            "it": (
                "Pacco arrivato danneggiato, vorrei il rimborso",
                "Buongiorno,\n\nil mio ordine {order} è arrivato oggi con la scatola schiacciata e "
                "l'articolo rotto. Vorrei restituirlo ed essere rimborsato.\n\nGrazie,\n{first}",
            ),
        },
        {
            "tags": ["refund", "return_label"],
            "priority": "normal",
            "en": (
                "How do I return an item I don't need?",
                "Hi, I ordered two of the same thing by mistake (order {order}). Can you send me "
                "a return label for one of them?\n\n{first}",
            ),
            "es": (
                "¿Cómo devuelvo un artículo que no necesito?",
                "Hola, pedí dos unidades del mismo producto por error (pedido {order}). "
                "¿Me podéis enviar una etiqueta de devolución para una de ellas?\n\n{first}",
            ),
            "it": (
                "Come restituisco un articolo che non mi serve?",
                "Salve, ho ordinato per errore due pezzi dello stesso prodotto (ordine {order}). "
                "Potete mandarmi l'etichetta di reso per uno dei due?\n\n{first}",
            ),
        },
        {
            "tags": ["refund", "late_refund"],
            "priority": "normal",
            "en": (
                "Refund still not received",
                "Hello, I sent back order {order} two weeks ago and the tracking says it was "
                "delivered to you, but I still have no refund. When will it arrive?\n\n{first}",
            ),
            "es": (
                "Todavía no he recibido el reembolso",
                "Hola, devolví el pedido {order} hace dos semanas y el seguimiento dice que os llegó, "
                "pero aún no tengo el reembolso. ¿Cuándo lo recibiré?\n\n{first}",
            ),
            "it": (
                "Rimborso non ancora ricevuto",
                "Buongiorno, ho rispedito l'ordine {order} due settimane fa e il tracking dice che "
                "vi è arrivato, ma il rimborso non c'è ancora. Quando arriverà?\n\n{first}",
            ),
        },
    ],
    "Exchanges": [
        {
            "tags": ["exchange", "wrong_size"],
            "priority": "normal",
            "en": (
                "Exchange for a bigger size",
                "Hi, the jacket from order {order} is too small. Can I swap it for a size L?\n\n{first}",
            ),
            "es": (
                "Cambio por una talla más grande",
                "Hola, la chaqueta del pedido {order} me queda pequeña. ¿Puedo cambiarla por una "
                "talla L?\n\n{first}",
            ),
            "it": (
                "Cambio con una taglia più grande",
                "Ciao, la giacca dell'ordine {order} è troppo piccola. Posso cambiarla con una "
                "taglia L?\n\n{first}",
            ),
        },
        {
            "tags": ["exchange", "wrong_item"],
            "priority": "high",
            "en": (
                "Received the wrong colour",
                "Hello, I ordered the black model ({product}) but received a white one. Please "
                "send the right one, order {order}.\n\n{first}",
            ),
            "es": (
                "He recibido el color equivocado",
                "Hola, pedí el modelo negro ({product}) pero me llegó uno blanco. Por favor, "
                "enviadme el correcto, pedido {order}.\n\n{first}",
            ),
            "it": (
                "Ricevuto il colore sbagliato",
                "Salve, avevo ordinato il modello nero ({product}) ma è arrivato bianco. Per "
                "favore mandatemi quello giusto, ordine {order}.\n\n{first}",
            ),
        },
    ],
    "Billing": [
        {
            "tags": ["invoice"],
            "priority": "normal",
            "en": (
                "Invoice with our company VAT number",
                "Hello, could you issue the invoice for order {order} to our company with our VAT "
                "number? The current one has only my name on it.\n\nBest regards,\n{first}",
            ),
            "es": (
                "Factura con el NIF de la empresa",
                "Hola, ¿podéis emitir la factura del pedido {order} a nombre de la empresa con "
                "nuestro NIF? La actual solo lleva mi nombre.\n\nSaludos,\n{first}",
            ),
            "it": (
                "Fattura con la partita IVA dell'azienda",
                "Buongiorno, potete intestare la fattura dell'ordine {order} alla nostra azienda "
                "con la partita IVA? Quella attuale riporta solo il mio nome.\n\nCordiali saluti,\n{first}",
            ),
        },
        {
            "tags": ["payment", "double_charge"],
            "priority": "urgent",
            "en": (
                "I was charged twice",
                "Hi, my card was charged twice for order {order}. Please refund the second "
                "payment as soon as possible.\n\n{first}",
            ),
            "es": (
                "Me habéis cobrado dos veces",
                "Hola, me han cargado dos veces en la tarjeta el pedido {order}. Por favor, "
                "devolved el segundo cargo lo antes posible.\n\n{first}",
            ),
            "it": (
                "Addebito doppio",
                "Ciao, sulla carta mi è stato addebitato due volte l'ordine {order}. Per favore "
                "stornate il secondo pagamento al più presto.\n\n{first}",
            ),
        },
        {
            "tags": ["payment", "declined"],
            "priority": "normal",
            "en": (
                "Payment declined but money taken",
                "The checkout said my payment was declined, but the amount is pending on my bank "
                "account. Did order {order} go through?\n\n{first}",
            ),
            "es": (
                "Pago rechazado pero con cargo",
                "Al pagar me salió que el pago fue rechazado, pero el importe aparece pendiente en "
                "mi banco. ¿Se ha realizado el pedido {order}?\n\n{first}",
            ),
            "it": (
                "Pagamento rifiutato ma importo trattenuto",
                "Il checkout diceva pagamento rifiutato, ma l'importo risulta in sospeso sul conto. "
                "L'ordine {order} è andato a buon fine?\n\n{first}",
            ),
        },
    ],
    "Technical Support": [
        {
            "tags": ["not_working", "replacement"],
            "priority": "high",
            "en": (
                "Headphones stopped charging",
                "Hello, my headphones ({product}) stopped charging after three weeks. The light "
                "does not come on with any cable. Can you help?\n\n{first}",
            ),
            "es": (
                "Los auriculares ya no cargan",
                "Hola, mis auriculares ({product}) dejaron de cargar a las tres semanas. La luz no "
                "se enciende con ningún cable. ¿Me podéis ayudar?\n\n{first}",
            ),
            "it": (
                "Le cuffie non si caricano più",
                "Salve, le mie cuffie ({product}) hanno smesso di caricarsi dopo tre settimane. La "
                "spia non si accende con nessun cavo. Potete aiutarmi?\n\n{first}",
            ),
        },
        {
            "tags": ["setup", "wifi"],
            "priority": "normal",
            "en": (
                "Can't connect the speaker to Wi-Fi",
                "Hi, the app finds the speaker ({product}) but setup fails at the Wi-Fi step every "
                "time. My router is 5 GHz only.\n\n{first}",
            ),
            "es": (
                "No consigo conectar el altavoz al wifi",
                "Hola, la aplicación encuentra el altavoz ({product}) pero la configuración falla "
                "siempre en el paso del wifi. Mi router es solo de 5 GHz.\n\n{first}",
            ),
            "it": (
                "Non riesco a collegare la cassa al Wi-Fi",
                "Ciao, l'app trova la cassa ({product}) ma la configurazione si blocca sempre al "
                "passaggio del Wi-Fi. Il mio router è solo a 5 GHz.\n\n{first}",
            ),
        },
        {
            "tags": ["not_working", "screen"],
            "priority": "high",
            "en": (
                "Tablet screen flickers",
                "The screen of my tablet ({product}) flickers and goes black after a few minutes. "
                "I have already reset it to factory settings.\n\n{first}",
            ),
            "es": (
                "La pantalla de la tableta parpadea",
                "La pantalla de mi tableta ({product}) parpadea y se queda en negro a los pocos "
                "minutos. Ya la he restablecido de fábrica.\n\n{first}",
            ),
            "it": (
                "Lo schermo del tablet sfarfalla",
                "Lo schermo del mio tablet ({product}) sfarfalla e diventa nero dopo pochi minuti. "
                "Ho già fatto il ripristino alle impostazioni di fabbrica.\n\n{first}",
            ),
        },
    ],
    "Books": [
        {
            "tags": ["delivery", "missing_item"],
            "priority": "normal",
            "en": (
                "One book missing from my order",
                "Hello, order {order} should have had three books but only two arrived. The "
                "second volume of the series is missing.\n\n{first}",
            ),
            "es": (
                "Falta un libro en mi pedido",
                "Hola, el pedido {order} tenía que traer tres libros pero solo llegaron dos. Falta "
                "el segundo tomo de la serie.\n\n{first}",
            ),
            "it": (
                "Manca un libro nel mio ordine",
                "Buongiorno, l'ordine {order} doveva contenere tre libri ma ne sono arrivati due. "
                "Manca il secondo volume della serie.\n\n{first}",
            ),
        },
        {
            "tags": ["ebook", "download"],
            "priority": "normal",
            "en": (
                "E-book download link doesn't work",
                "Hi, the download link for the e-book I bought (order {order}) says it has "
                "expired. I haven't downloaded it yet.\n\n{first}",
            ),
            "es": (
                "El enlace de descarga del e-book no funciona",
                "Hola, el enlace de descarga del e-book que compré (pedido {order}) dice que ha "
                "caducado. Todavía no lo he descargado.\n\n{first}",
            ),
            "it": (
                "Il link per scaricare l'e-book non funziona",
                "Ciao, il link per scaricare l'e-book che ho comprato (ordine {order}) dice che è "
                "scaduto. Non l'ho ancora scaricato.\n\n{first}",
            ),
        },
        {
            "tags": ["school_order", "bulk"],
            "priority": "low",
            "en": (
                "Class set of textbooks for September",
                "Hello, we need 28 copies of the same maths textbook for a class. Can you quote "
                "a price and a delivery date?\n\n{first}",
            ),
            "es": (
                "Lote de libros de texto para septiembre",
                "Hola, necesitamos 28 ejemplares del mismo libro de matemáticas para una clase. "
                "¿Nos podéis dar precio y fecha de entrega?\n\n{first}",
            ),
            "it": (
                "Libri di testo per una classe a settembre",
                "Buongiorno, ci servono 28 copie dello stesso libro di matematica per una classe. "
                "Potete indicarci prezzo e data di consegna?\n\n{first}",
            ),
        },
    ],
    "Electronics": [
        {
            "tags": ["delivery", "late"],
            "priority": "normal",
            "en": (
                "Where is my laptop?",
                "Hi, order {order} was due on Tuesday and the tracking hasn't moved for four days. "
                "Can you check with the courier?\n\n{first}",
            ),
            "es": (
                "¿Dónde está mi portátil?",
                "Hola, el pedido {order} tenía que llegar el martes y el seguimiento lleva cuatro "
                "días sin moverse. ¿Podéis consultarlo con la mensajería?\n\n{first}",
            ),
            "it": (
                "Dov'è il mio portatile?",
                "Ciao, l'ordine {order} doveva arrivare martedì e il tracking è fermo da quattro "
                "giorni. Potete verificare con il corriere?\n\n{first}",
            ),
        },
        {
            "tags": ["warranty"],
            "priority": "normal",
            "en": (
                "Warranty for a phone bought last year",
                "Hello, my phone ({product}) bought from you 14 months ago has a faulty microphone. "
                "Is it still under warranty?\n\n{first}",
            ),
            "es": (
                "Garantía de un móvil comprado el año pasado",
                "Hola, mi móvil ({product}), comprado en vuestra tienda hace 14 meses, tiene el "
                "micrófono estropeado. ¿Sigue en garantía?\n\n{first}",
            ),
            "it": (
                "Garanzia di un telefono comprato l'anno scorso",
                "Buongiorno, il mio telefono ({product}) comprato da voi 14 mesi fa ha il microfono "
                "guasto. È ancora in garanzia?\n\n{first}",
            ),
        },
        {
            "tags": ["pre_sales"],
            "priority": "low",
            "en": (
                "Does this TV support HDMI 2.1?",
                "Hi, before I order the TV {product}: do all four HDMI ports support 4K at 120 Hz?"
                "\n\n{first}",
            ),
            "es": (
                "¿Este televisor es compatible con HDMI 2.1?",
                "Hola, antes de pedir el televisor {product}: ¿los cuatro puertos HDMI admiten 4K a "
                "120 Hz?\n\n{first}",
            ),
            "it": (
                "Questo TV supporta l'HDMI 2.1?",
                "Ciao, prima di ordinare il TV {product}: tutte e quattro le porte HDMI supportano "
                "il 4K a 120 Hz?\n\n{first}",
            ),
        },
    ],
}

# The agent's first answer: a question that waits for the customer (-> pending) ...
ASK = {
    "en": [
        "Hi {first},\n\nthanks for getting in touch. Could you send us a photo of the item and of "
        "the label on the box? Then we can sort this out straight away.\n\nKind regards,\n{agent}",
        "Hello {first},\n\nsorry about this. Can you confirm the e-mail address used for order "
        "{order}? I can't find it under this one.\n\nBest,\n{agent}",
        "Hi {first},\n\nthanks for the details. Before we go ahead: did you keep the original "
        "packaging?\n\n{agent}",
    ],
    "es": [
        "Hola {first}:\n\ngracias por escribirnos. ¿Nos puedes enviar una foto del artículo y de "
        "la etiqueta de la caja? Así lo resolvemos enseguida.\n\nUn saludo,\n{agent}",
        "Hola {first}:\n\nsentimos las molestias. ¿Puedes confirmarnos el correo con el que "
        "hiciste el pedido {order}? No lo encuentro con esta dirección.\n\nSaludos,\n{agent}",
        "Hola {first}:\n\ngracias por los datos. Antes de seguir: ¿conservas el embalaje "
        "original?\n\n{agent}",
    ],
    "it": [
        "Ciao {first},\n\ngrazie per averci scritto. Puoi mandarci una foto dell'articolo e "
        "dell'etichetta sulla scatola? Così risolviamo subito.\n\nCordiali saluti,\n{agent}",
        "Buongiorno {first},\n\nci scusiamo per il disagio. Puoi confermarci l'indirizzo e-mail "
        "usato per l'ordine {order}? Con questo non lo trovo.\n\nSaluti,\n{agent}",
        "Ciao {first},\n\ngrazie per i dettagli. Prima di procedere: hai conservato l'imballo "
        "originale?\n\n{agent}",
    ],
}
# ... or an answer that moves things forward (-> open while we work on it).
WORKING = {
    "en": [
        "Hi {first},\n\nthanks, I've passed this to our warehouse and will update you as soon "
        "as I hear back (usually within a day).\n\n{agent}",
        "Hello {first},\n\nI'm looking into this now and will get back to you shortly.\n\n{agent}",
    ],
    "es": [
        "Hola {first}:\n\ngracias, lo he pasado a nuestro almacén y te aviso en cuanto me "
        "respondan (normalmente en un día).\n\n{agent}",
        "Hola {first}:\n\nlo estoy revisando ahora mismo y te respondo en breve.\n\n{agent}",
    ],
    "it": [
        "Ciao {first},\n\ngrazie, ho girato la richiesta al magazzino e ti aggiorno appena mi "
        "rispondono (di solito entro un giorno).\n\n{agent}",
        "Buongiorno {first},\n\nci sto guardando adesso e ti rispondo a breve.\n\n{agent}",
    ],
}
CUSTOMER_FOLLOW_UP = {
    "en": [
        "Hi, here are the photos you asked for. Let me know if you need anything else.",
        "Yes, I still have the box. What's the next step?",
        "The address is the same one I'm writing from. Any news?",
        "Thanks. Any update on this? It has been a few days.",
    ],
    "es": [
        "Hola, aquí tenéis las fotos que me pedisteis. Decidme si necesitáis algo más.",
        "Sí, todavía tengo la caja. ¿Cuál es el siguiente paso?",
        "La dirección es la misma desde la que os escribo. ¿Alguna novedad?",
        "Gracias. ¿Hay novedades? Ya han pasado unos días.",
    ],
    "it": [
        "Ciao, ecco le foto che mi avete chiesto. Fatemi sapere se serve altro.",
        "Sì, ho ancora la scatola. Qual è il prossimo passo?",
        "L'indirizzo è lo stesso da cui vi scrivo. Novità?",
        "Grazie. Ci sono aggiornamenti? Sono passati alcuni giorni.",
    ],
}
RESOLVE = {
    "en": [
        "Hi {first},\n\ngood news: it's all sorted. You'll see the confirmation by e-mail within "
        "the hour. Anything else, just reply to this message.\n\n{agent}",
        "Hello {first},\n\nthe replacement has shipped today and should reach you in 2-3 working "
        "days. I'll mark this as solved; reply if anything goes wrong.\n\n{agent}",
        "Hi {first},\n\nthe refund has been issued to your original payment method; banks take "
        "up to 5 working days to show it.\n\nBest,\n{agent}",
    ],
    "es": [
        "Hola {first}:\n\nbuenas noticias: ya está todo resuelto. Recibirás la confirmación por "
        "correo en la próxima hora. Para cualquier otra cosa, responde a este mensaje.\n\n{agent}",
        "Hola {first}:\n\nhoy hemos enviado el repuesto y debería llegarte en 2-3 días "
        "laborables. Marco la consulta como resuelta; responde si algo falla.\n\n{agent}",
        "Hola {first}:\n\nhemos emitido el reembolso al método de pago original; el banco "
        "puede tardar hasta 5 días laborables en reflejarlo.\n\nUn saludo,\n{agent}",
    ],
    "it": [
        "Ciao {first},\n\nbuone notizie: è tutto sistemato. Riceverai la conferma via e-mail "
        "entro un'ora. Per qualsiasi altra cosa rispondi pure a questo messaggio.\n\n{agent}",
        "Buongiorno {first},\n\nil prodotto sostitutivo è partito oggi e dovrebbe arrivare in "
        "2-3 giorni lavorativi. Segno la richiesta come risolta; rispondi se qualcosa non va."
        "\n\n{agent}",
        "Ciao {first},\n\nabbiamo emesso il rimborso sul metodo di pagamento originale; la banca "
        "può impiegare fino a 5 giorni lavorativi per mostrarlo.\n\nSaluti,\n{agent}",
    ],
}
CUSTOMER_THANKS = {
    "en": ["Perfect, thank you!", "Received, thanks for the quick help.", "Great, all good now."],
    "es": ["¡Perfecto, gracias!", "Recibido, gracias por la rapidez.", "Genial, ya está todo bien."],
    "it": ["Perfetto, grazie!", "Ricevuto, grazie per la rapidità.", "Ottimo, ora è tutto a posto."],
}
INTERNAL_NOTES = [
    "Checked the order in the back office: shipped from the Bologna warehouse, courier BRT.",
    "Customer has had two similar issues this year; consider a goodwill voucher.",
    "Waiting on the supplier for stock of the replacement. ETA next week.",
    "Photos received. Damage is clearly from transport: approved.",
    "Payment provider confirms the duplicate authorisation will drop off in 48 h.",
    "Escalating: VIP organization, please handle today.",
    "Ho verificato con il magazzino: il collo risulta consegnato al corriere giovedì.",
    "Same fault reported on three units of this batch this month; flagged to the supplier.",
]
ON_HOLD_NOTE = "On hold until the supplier confirms the replacement stock."
CHANNEL_WEIGHTS = {"email": 0.5, "portal": 0.2, "chat": 0.12, "phone": 0.1, "web": 0.08}
