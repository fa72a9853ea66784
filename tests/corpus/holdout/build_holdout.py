#!/usr/bin/env python3
"""Build the independent holdout corpus for the redaction engine.

Written without looking at rules/, redaction/ or the engine author's corpus.
Every value is synthetic and generated here with a seeded RNG, so the output
is byte-for-byte stable:  python3 build_holdout.py [--out FILE] [--check]

Output: one JSON object per line
  {"id","lang","kind","text",
   "entities":[{"type","start","end"}],     # values that must be found
   "negatives":[{"kind","start","end"}]}    # spans where nothing may be found
Offsets are BYTE offsets into the UTF-8 encoding of "text".

Templates below use markers:  ⟦TYPE⟧ / ⟦TYPE:arg⟧   an entity (labeled)
                              ⟦!KIND⟧ / ⟦!KIND:arg⟧  a hard negative (labeled)
                              ⟦~fill⟧                unlabeled filler (names, hosts ...)
A suffix "@name" binds the generated value so it can be repeated in the item.
"""
import argparse
import base64
import binascii
import ipaddress
import json
import os
import re
import string
import sys
import unicodedata
import random

SEED = 20240612
R = random.Random(SEED)

DIG = string.digits
UP = string.ascii_uppercase
LO = string.ascii_lowercase
ALNUM = DIG + UP + LO
B62 = DIG + UP + LO  # pybase62 default charset, as used by GitHub's checksum
B64 = UP + LO + DIG + "+/"
B64URL = UP + LO + DIG + "-_"
HEX = "0123456789abcdef"


def rs(alpha, n):
    return "".join(R.choice(alpha) for _ in range(n))


def digits(n, first_nonzero=False):
    s = rs(DIG, n)
    if first_nonzero and s[0] == "0":
        s = R.choice("123456789") + s[1:]
    return s


def pick(*xs):
    return R.choice(xs)


def wpick(pairs):
    tot = sum(w for _, w in pairs)
    x = R.random() * tot
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


# --------------------------------------------------------------- checksums
def luhn_ok(num):
    s = 0
    for i, ch in enumerate(reversed(num)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return s % 10 == 0


def luhn_complete(body):
    for c in DIG:
        if luhn_ok(body + c):
            return body + c
    raise AssertionError


def iban_check(cc, bban):
    def num(s):
        return "".join(str(int(ch, 36)) for ch in s)
    v = int(num(bban + cc + "00"))
    return "%02d" % (98 - v % 97)


def iban_ok(iban):
    s = iban.replace(" ", "")
    v = int("".join(str(int(ch, 36)) for ch in s[4:] + s[:4]))
    return v % 97 == 1


def ean13_digit(body12):
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body12))
    return str((10 - s % 10) % 10)


def b62(n, width):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------------- filler pools
FIRST = {
    "en": ["James", "Emily", "Michael", "Sarah", "David", "Jessica", "Daniel", "Olivia", "Ryan",
           "Hannah", "Chris", "Megan", "Tom", "Laura", "Oliver", "Charlotte", "Aisha", "Raj", "Wei",
           "Kevin", "Siobhán", "Zoë"],
    "de": ["Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lena", "Maximilian", "Julia",
           "Tobias", "Katrin", "Jürgen", "Björn", "Sören", "Mehmet", "Ayşe", "Grete", "Uwe"],
    "fr": ["Camille", "Jérôme", "Léa", "Hugo", "Chloé", "Théo", "Manon", "Étienne", "Inès", "Lucas",
           "Zoé", "François", "Hélène", "Noël", "Gaëlle", "Anaïs"],
    "es": ["Lucía", "Javier", "María", "Alejandro", "Sofía", "Pablo", "Carmen", "Sergio", "Elena",
           "Andrés", "Nuria", "Íñigo", "Begoña", "José", "Ainhoa", "Raúl"],
}
LAST = {
    "en": ["Smith", "Johnson", "Williams", "Brown", "Taylor", "Davies", "Wilson", "Evans", "Thomas",
           "Roberts", "Patel", "Walker", "O'Neill", "Murphy", "Clarke", "Nguyen"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Größer", "Yılmaz", "Krause"],
    "fr": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
           "Moreau", "Lefèvre", "Girard", "Bonnet", "Faure", "Garnier", "Rousseau"],
    "es": ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
           "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Muñoz", "Peña"],
}
CITY = {
    "en": ["London", "Manchester", "New York", "Chicago", "Austin", "Seattle", "Boston", "Dublin", "Leeds"],
    "de": ["Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf", "Leipzig"],
    "fr": ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Bordeaux", "Lille", "Besançon"],
    "es": ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Málaga", "Zaragoza", "A Coruña"],
}
STREET = {
    "en": ["221 Baker Street", "14 Kingsway", "1200 Market St, Suite 400", "88 Harbour Road", "5 Elm Close"],
    "de": ["Hauptstraße 12", "Lindenallee 3a", "Schloßstraße 27", "Am Bärenzwinger 5", "Königsweg 101"],
    "fr": ["12 rue de la République", "3 avenue Jean Jaurès", "45 boulevard Haussmann", "8 place Bellecour"],
    "es": ["Calle Mayor 14, 3º B", "Avenida de la Constitución 22", "Calle de Alcalá 101", "Plaza España 3"],
}
ZIP = {"en": ["SW1A 1AA", "M1 2AB", "NY 10013", "TX 78701", "D02 X285"],
       "de": ["10115", "80331", "20095", "50667", "60311"],
       "fr": ["75009", "69002", "13001", "31000", "44000"],
       "es": ["28013", "08001", "46002", "41004", "48001"]}
COMPANY = {
    "en": [("Northwind Traders", "northwind-traders.com"), ("Acme Logistics Ltd", "acme-logistics.co.uk"),
           ("Bluefin Analytics", "bluefin-analytics.io"), ("Harbor Health Inc.", "harborhealth.com"),
           ("Kestrel Payments", "kestrelpay.com")],
    "de": [("Nordlicht Software GmbH", "nordlicht-software.de"), ("Müller & Söhne KG", "mueller-soehne.de"),
           ("Rheinwerk Logistik AG", "rheinwerk-logistik.de"), ("Bäckerei Krause", "baeckerei-krause.de"),
           ("Alpenblick Hotels GmbH", "alpenblick-hotels.at")],
    "fr": [("Lumière Conseil SAS", "lumiere-conseil.fr"), ("Boulangerie Dupont SARL", "boulangerie-dupont.fr"),
           ("Atelier Garnier", "atelier-garnier.fr"), ("Océane Assurances", "oceane-assurances.fr")],
    "es": [("Distribuciones Levante S.L.", "levante-distribuciones.es"), ("Soluciones Ibéricas S.A.", "solibericas.es"),
           ("Talleres Ruiz", "talleresruiz.es"), ("Viajes Sol y Mar", "viajessolymar.com")],
}
FREEMAIL = {"en": ["gmail.com", "outlook.com", "yahoo.co.uk", "icloud.com", "proton.me", "btinternet.com", "hotmail.com"],
            "de": ["gmx.de", "web.de", "t-online.de", "gmail.com", "posteo.de", "freenet.de"],
            "fr": ["orange.fr", "laposte.net", "free.fr", "gmail.com", "sfr.fr", "wanadoo.fr"],
            "es": ["hotmail.es", "yahoo.es", "gmail.com", "telefonica.net", "outlook.es"]}
HOSTS = ["db-01.internal", "pg-primary.prod.svc.cluster.local", "mysql.shop.local", "db.nordlicht.lan",
         "postgres", "db", "rds-prod.cluster-c9x2k1.eu-central-1.rds.amazonaws.com", "sql-crm-02"]
USERS = ["app", "shop_rw", "billing", "crm_app", "deploy", "svc_reporting", "admin", "etl", "api"]
DBS = ["shop", "billing", "crm", "analytics", "orders", "app_prod", "hr"]
PRODUCTS = {"en": ["USB-C dock", "27\" monitor", "ergonomic chair", "annual licence", "travel mug"],
            "de": ["Akkuschrauber", "Bürostuhl", "Jahreslizenz", "Kaffeevollautomat", "Wanderschuhe"],
            "fr": ["cafetière", "licence annuelle", "fauteuil de bureau", "casque audio", "vélo pliant"],
            "es": ["cafetera", "licencia anual", "silla de oficina", "auriculares", "mochila"]}


def asciify(s):
    s = s.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
    s = s.replace("Ü", "Ue").replace("Ö", "Oe").replace("Ä", "Ae").replace("'", "")
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.replace("ı", "i").replace("ş", "s")
    return "".join(c for c in s if c.isalnum() or c in "-.")


# --------------------------------------------------------------- entity generators
class Ctx:
    def __init__(self, lang):
        self.lang = lang
        self.cache = {}
        self.people = {}

    def person(self, tag=""):
        if tag not in self.people:
            lang = self.lang if R.random() < 0.85 else R.choice(list(FIRST))
            self.people[tag] = (R.choice(FIRST[lang]), R.choice(LAST[lang]))
        return self.people[tag]

    def company(self):
        if "_company" not in self.cache:
            self.cache["_company"] = R.choice(COMPANY[self.lang])
        return self.cache["_company"]


def g_email(ctx, arg):
    parts = (arg or "").split(".", 1)
    mode, tag = parts[0], (parts[1] if len(parts) > 1 else "")
    if mode == "role":
        local = R.choice({"en": ["support", "billing", "hr", "info", "accounts", "ops-team"],
                          "de": ["buchhaltung", "personal", "info", "service", "rechnung"],
                          "fr": ["contact", "comptabilite", "rh", "service-client"],
                          "es": ["contacto", "facturacion", "rrhh", "atencion.cliente"]}[ctx.lang])
        return local + "@" + ctx.company()[1]
    if mode == "sa":
        return "%s@%s.iam.gserviceaccount.com" % (pick("ci-deployer", "bq-reader", "backup-job"),
                                                   pick("acme-prod-4711", "nordlicht-data", "billing-eu-1"))
    first, last = ctx.person(tag)
    f, l = asciify(first).lower(), asciify(last).lower()
    dom = ctx.company()[1] if (mode == "work" or (mode == "p" and R.random() < 0.45)) else R.choice(FREEMAIL[ctx.lang])
    local = wpick([(f + "." + l, 5), (f[0] + "." + l, 2), (f + l + str(R.randint(7, 99)), 2),
                   (f + "_" + l, 1), (l + "." + f, 1), (f + "." + l + "+" + pick("shop", "news", "billing"), 1),
                   (f + "-" + l, 1)])
    s = local + "@" + dom
    if R.random() < 0.07:
        s = local.capitalize() + "@" + dom.capitalize()
    return s


def _sep_join(groups, sep):
    return sep.join(groups)


def phone_country(lang):
    return wpick({"en": [("US", 5), ("UK", 4), ("IE", 0.5), ("CA", 0.5), ("AU", 0.5), ("NL", 0.5), ("IT", 0.5), ("IN", 0.3)],
                  "de": [("DE", 7), ("AT", 1.2), ("CH", 1.2), ("NL", 0.5), ("PL", 0.4)],
                  "fr": [("FR", 7), ("BE", 1.2), ("CH", 1), ("IT", 0.4), ("ES", 0.3)],
                  "es": [("ES", 7), ("MX", 1), ("PT", 0.8), ("IT", 0.6), ("BR", 0.3)]}[lang])


def g_phone(ctx, arg):
    c = arg or phone_country(ctx.lang)
    mobile = c.endswith("m")
    intl_only = c.endswith("i")
    c = c.rstrip("mi") if c not in ("MX",) else c
    if c == "US" or c == "CA":
        area = R.choice(["212", "213", "303", "305", "312", "347", "404", "415", "512", "617", "646", "702", "713",
                         "718", "917", "206", "503", "919", "720", "470"] if c == "US" else ["416", "604", "514", "403", "613"])
        ex = str(R.randint(2, 9)) + digits(2)
        while ex[1:] == "11" or ex == "555":
            ex = str(R.randint(2, 9)) + digits(2)
        ln = digits(4)
        fmts = ["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "+1-{a}-{e}-{l}",
                "+1 ({a}) {e}-{l}", "1-{a}-{e}-{l}", "+1{a}{e}{l}", "({a}) {e} {l}", "{a} {e} {l}"]
        if intl_only:
            fmts = fmts[3:6] + fmts[7:8]
        return R.choice(fmts).format(a=area, e=ex, l=ln)
    if c == "UK":
        kind = "m" if mobile else wpick([("ldn", 3), ("geo", 2), ("m", 4)])
        if kind == "ldn":
            a, s1, s2 = "20", pick("7", "3", "8") + digits(3), digits(4)
            nat = ["0{a} {s1} {s2}", "(0{a}) {s1} {s2}", "0{a}{s1}{s2}"]
            intl = ["+44 {a} {s1} {s2}", "+44 (0){a} {s1} {s2}", "+44{a}{s1}{s2}", "0044 {a} {s1} {s2}"]
        elif kind == "geo":
            a, s1, s2 = pick("161", "121", "131", "113", "117", "141"), digits(3, True), digits(4)
            nat = ["0{a} {s1} {s2}", "(0{a}) {s1} {s2}", "0{a}-{s1}-{s2}"]
            intl = ["+44 {a} {s1} {s2}", "+44 (0){a} {s1} {s2}"]
        else:
            a = "7" + pick("4", "5", "7", "8", "9") + digits(2)
            while a == "7700":
                a = "7" + pick("4", "5", "8", "9") + digits(2)
            s1, s2 = digits(6), ""
            nat = ["0{a} {s1}", "0{a}{s1}", "0{a}-{s1}"]
            intl = ["+44 {a} {s1}", "+44{a}{s1}", "+44 (0){a} {s1}", "0044 {a} {s1}"]
        f = R.choice(intl if intl_only or R.random() < 0.45 else nat)
        return f.format(a=a, s1=s1, s2=s2).replace("  ", " ").strip()
    if c == "DE":
        if mobile or R.random() < 0.4:
            a = pick("151", "152", "157", "160", "162", "170", "171", "172", "173", "175", "176", "177", "178", "179")
            sub = digits(R.choice([7, 8]))
        else:
            a = pick("30", "40", "89", "221", "69", "711", "211", "341", "621")
            sub = digits(10 - len(a) + R.choice([-1, 0]), True)
        h = len(sub) // 2
        nat = ["0{a} {s}", "0{a}/{s}", "0{a}-{s}", "(0{a}) {s1} {s2}", "0{a} / {s1} {s2}", "0{a} {s1} {s2}", "0{a}-{s1}-{s2}"]
        intl = ["+49 {a} {s}", "+49 (0){a} {s}", "+49 {a} {s1} {s2}", "+49{a}{s}", "0049 {a} {s}", "+49-{a}-{s}", "+49 (0) {a} {s1} {s2}"]
        f = R.choice(intl if intl_only or R.random() < 0.45 else nat)
        return f.format(a=a, s=sub, s1=sub[:h], s2=sub[h:])
    if c == "FR":
        first = pick("6", "7") if mobile or R.random() < 0.4 else pick("1", "2", "3", "4", "5", "9")
        g = [digits(2) for _ in range(4)]
        if R.random() < 0.45 or intl_only:
            f = pick("+33 {f} {g}", "+33 (0){f} {g}", "+33{f}{gc}", "+33 {f} {g}", "0033 {f} {g}")
            return f.format(f=first, g=" ".join(g), gc="".join(g))
        sep = wpick([(" ", 6), (".", 2), ("-", 1), ("", 1)])
        return "0" + first + sep + sep.join(g)
    if c == "ES":
        if mobile or R.random() < 0.5:
            n = ("6" + digits(8)) if R.random() < 0.8 else ("7" + pick("1", "2", "3", "4") + digits(7))
        else:
            n = pick("91", "93", "96", "95", "94", "98") + digits(7)
        groups3 = [n[:3], n[3:6], n[6:]]
        groups_l = [n[:2], n[2:5], n[5:7], n[7:]] if n[0] == "9" else [n[:3], n[3:5], n[5:7], n[7:]]
        nat = [" ".join(groups3), " ".join(groups_l), n, "-".join(groups3)]
        intl = ["+34 " + " ".join(groups3), "+34 " + " ".join(groups_l), "+34" + n, "0034 " + " ".join(groups3),
                "(+34) " + " ".join(groups3)]
        return R.choice(intl if intl_only or R.random() < 0.45 else nat)
    if c == "IT":
        if mobile or R.random() < 0.5:
            n = "3" + pick("2", "3", "4", "5", "6", "8", "9") + digits(8)
            nat = [n[:3] + " " + n[3:6] + " " + n[6:], n[:3] + " " + n[3:], n]
            intl = ["+39 " + nat[0], "+39 " + nat[1], "+39" + n]
        else:
            n = pick("06", "02") + digits(8)
            nat = [n[:2] + " " + n[2:6] + " " + n[6:], n[:2] + " " + n[2:], n[:2] + "-" + n[2:]]
            intl = ["+39 " + nat[0], "+39 " + nat[1], "0039 " + nat[0]]
        return R.choice(intl if intl_only or R.random() < 0.5 else nat)
    if c == "NL":
        if mobile or R.random() < 0.5:
            s = digits(8)
            nat = ["06-" + s, "06 " + s[:4] + " " + s[4:], "06 " + s, "06-" + s[:2] + " " + s[2:5] + " " + s[5:]]
            intl = ["+31 6 " + s, "+31 (0)6 " + s[:4] + " " + s[4:], "+316" + s, "+31 6 " + s[:2] + " " + s[2:5] + " " + s[5:]]
        else:
            a, s = pick("20", "10", "30", "70"), digits(7, True)
            nat = ["0%s %s %s" % (a, s[:3], s[3:]), "0%s-%s" % (a, s), "0%s %s" % (a, s)]
            intl = ["+31 %s %s %s" % (a, s[:3], s[3:]), "+31 (0)%s %s %s" % (a, s[:3], s[3:]), "+31%s%s" % (a, s)]
        return R.choice(intl if intl_only or R.random() < 0.5 else nat)
    if c == "CH":
        return pick("+41 44 %s %s %s" % (digits(3, True), digits(2), digits(2)),
                    "044 %s %s %s" % (digits(3, True), digits(2), digits(2)),
                    "+41 79 %s %s %s" % (digits(3, True), digits(2), digits(2)),
                    "+41 (0)22 %s %s %s" % (digits(3, True), digits(2), digits(2)))
    if c == "AT":
        return pick("+43 1 %s %s" % (digits(3, True), digits(4)), "+43 664 %s" % digits(7, True),
                    "0664 %s %s" % (digits(3, True), digits(4)), "+43 (0)1 %s" % digits(7, True))
    if c == "BE":
        return pick("+32 2 %s %s %s" % (digits(3, True), digits(2), digits(2)),
                    "+32 470 %s %s %s" % (digits(2), digits(2), digits(2)),
                    "02 %s %s %s" % (digits(3, True), digits(2), digits(2)),
                    "0475 %s %s %s" % (digits(2), digits(2), digits(2)))
    if c == "PL":
        return pick("+48 22 %s %s %s" % (digits(3, True), digits(2), digits(2)), "+48 601 %s %s" % (digits(3), digits(3)),
                    "+48 512 %s %s" % (digits(3), digits(3)))
    if c == "IE":
        return pick("+353 1 %s %s" % (digits(3, True), digits(4)), "+353 87 %s %s" % (digits(3, True), digits(4)),
                    "087 %s %s" % (digits(3, True), digits(4)), "(01) %s %s" % (digits(3, True), digits(4)))
    if c == "PT":
        return pick("+351 21 %s %s" % (digits(3, True), digits(4)), "+351 912 %s %s" % (digits(3), digits(3)),
                    "912 %s %s" % (digits(3), digits(3)))
    if c == "AU":
        return pick("+61 2 %s %s" % (digits(4, True), digits(4)), "+61 412 %s %s" % (digits(3), digits(3)),
                    "(02) %s %s" % (digits(4, True), digits(4)), "0412 %s %s" % (digits(3), digits(3)))
    if c == "MX":
        return pick("+52 55 %s %s" % (digits(4, True), digits(4)), "+52 33 %s %s" % (digits(4, True), digits(4)),
                    "+52 81 %s %s" % (digits(4, True), digits(4)))
    if c == "BR":
        return pick("+55 11 9%s-%s" % (digits(4), digits(4)), "(11) 9%s-%s" % (digits(4), digits(4)))
    if c == "IN":
        return pick("+91 98%s %s" % (digits(3), digits(5)), "+91-98%s-%s" % (digits(3), digits(5)))
    if c == "SE":
        return "+46 8 %s %s %s" % (digits(3, True), digits(3), digits(2))
    if c == "JP":
        return "+81 3-%s-%s" % (digits(4, True), digits(4))
    raise ValueError(c)


CARD_BRANDS = [("visa", 5), ("mc", 3), ("mc2", 1.5), ("amex", 2), ("disc", 1.5)]


def card_number(brand):
    if brand == "visa":
        body, ln = "4" + digits(5), 16
    elif brand == "mc":
        body, ln = "5" + R.choice("12345") + digits(4), 16
    elif brand == "mc2":
        body, ln = str(R.randint(2221, 2720)) + digits(2), 16
    elif brand == "amex":
        body, ln = R.choice(["34", "37"]) + digits(4), 15
    else:
        body, ln = R.choice(["6011", "65" + digits(2), str(R.randint(644, 649)) + digits(1)]) + digits(2), 16
    body += digits(ln - 1 - len(body))
    return luhn_complete(body)


def fmt_card(num, style=None):
    style = style or wpick([("space", 5), ("dash", 2), ("compact", 3)])
    if len(num) == 15:
        g = [num[:4], num[4:10], num[10:]]
    else:
        g = [num[i:i + 4] for i in range(0, 16, 4)]
    if style == "space":
        return " ".join(g)
    if style == "dash":
        return "-".join(g)
    return num


def g_card(ctx, arg):
    brand = arg if arg in ("visa", "mc", "mc2", "amex", "disc") else wpick(CARD_BRANDS)
    style = arg if arg in ("space", "dash", "compact") else None
    return fmt_card(card_number(brand), style)


# ISO 13616 BBAN structures (n digits, a upper letters, c alphanumerics)
IBAN_FMT = {
    "DE": "8n10n", "FR": "5n5n11c2n", "GB": "4a6n8n", "NL": "4a10n", "ES": "4n4n1n1n10n", "IT": "1a5n5n12c",
    "AT": "5n11n", "BE": "3n7n2n", "CH": "5n12c", "PL": "8n16n", "PT": "4n4n11n2n", "IE": "4a6n8n",
    "LU": "3n13c", "SE": "3n16n1n", "DK": "4n9n1n", "NO": "4n6n1n", "FI": "3n11n", "CZ": "4n6n10n",
    "HU": "3n4n1n15n1n", "GR": "3n4n16c", "RO": "4a16c", "HR": "7n10n", "SI": "5n8n2n", "SK": "4n6n10n",
    "LT": "5n11n", "LV": "4a13c", "EE": "2n2n11n1n", "MT": "4a5n18c", "CY": "3n5n16c", "BG": "4a4n2n8c",
    "SA": "2n18c", "AE": "3n16n", "TR": "5n1n16c", "MC": "5n5n11c2n", "LI": "5n12c", "IS": "4n2n6n10n",
}
IBAN_LEN = {"DE": 22, "FR": 27, "GB": 22, "NL": 18, "ES": 24, "IT": 27, "AT": 20, "BE": 16, "CH": 21, "PL": 28,
            "PT": 25, "IE": 22, "LU": 20, "SE": 24, "DK": 18, "NO": 15, "FI": 18, "CZ": 24, "HU": 28, "GR": 27,
            "RO": 24, "HR": 21, "SI": 19, "SK": 24, "LT": 20, "LV": 21, "EE": 20, "MT": 31, "CY": 28, "BG": 22,
            "SA": 24, "AE": 23, "TR": 26, "MC": 27, "LI": 21, "IS": 26}
BANKS = {"GB": ["NWBK", "BARC", "HBUK", "LOYD", "MIDL"], "IE": ["AIBK", "BOFI"], "NL": ["INGB", "ABNA", "RABO", "TRIO"],
         "RO": ["BTRL", "RNCB"], "LV": ["HABA", "UNLA"], "MT": ["MALT", "VALL"], "BG": ["BNBG", "UNCR"]}


def bban(cc):
    out = []
    for m in re.finditer(r"(\d+)([nac])", IBAN_FMT[cc]):
        n, t = int(m.group(1)), m.group(2)
        if t == "n":
            out.append(digits(n))
        elif t == "a":
            if n == 4 and cc in BANKS:
                out.append(R.choice(BANKS[cc]))
            else:
                out.append(rs(UP, n))
        else:
            s = digits(n)
            if R.random() < 0.3:  # a letter or two inside alphanumeric fields
                i = R.randrange(n)
                s = s[:i] + R.choice(UP) + s[i + 1:]
            out.append(s)
    return "".join(out)


def iban_raw(cc):
    b = bban(cc)
    s = cc + iban_check(cc, b) + b
    assert len(s) == IBAN_LEN[cc], (cc, s)
    assert iban_ok(s)
    return s


def fmt_iban(s, style=None):
    style = style or wpick([("space", 7), ("compact", 3)])
    if style == "space":
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


def iban_country(lang):
    return wpick({"de": [("DE", 8), ("AT", 1.5), ("CH", 1), ("LU", 0.3), ("LI", 0.2)],
                  "fr": [("FR", 8), ("BE", 1.5), ("LU", 0.7), ("MC", 0.4), ("CH", 0.5)],
                  "es": [("ES", 8), ("PT", 1.5), ("IT", 0.5)],
                  "en": [(c, 1) for c in ["GB", "GB", "GB", "IE", "NL", "IT", "PL", "SE", "DK", "NO", "FI", "CZ", "HU",
                                           "GR", "RO", "HR", "SI", "SK", "LT", "LV", "EE", "MT", "CY", "BG", "SA", "AE",
                                           "TR", "IS", "PT", "BE"]]}[lang])


def g_iban(ctx, arg):
    cc = arg if arg and len(arg) == 2 else iban_country(ctx.lang)
    style = arg if arg in ("space", "compact") else None
    return fmt_iban(iban_raw(cc), style)


def ssn_raw():
    while True:
        area = R.randint(1, 899)
        if area == 666:
            continue
        s = "%03d%02d%04d" % (area, R.randint(1, 99), R.randint(1, 9999))
        if s in ("078051120", "219099999", "123456789") or len(set(s)) == 1:
            continue
        return s


def g_ssn(ctx, arg):
    s = ssn_raw()
    style = arg or wpick([("dash", 8), ("space", 1.5)])
    if style == "dash":
        return "%s-%s-%s" % (s[:3], s[3:5], s[5:])
    if style == "space":
        return "%s %s %s" % (s[:3], s[3:5], s[5:])
    return s


NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def g_nino(ctx, arg):
    while True:
        p = R.choice(NINO_FIRST) + R.choice(NINO_SECOND)
        if p not in ("BG", "GB", "NK", "KN", "NT", "TN", "ZZ"):
            break
    d = digits(6)
    suf = R.choice("ABCD")
    style = arg or wpick([("space", 5), ("compact", 4), ("lower", 0.5)])
    if style == "space":
        return "%s %s %s %s %s" % (p, d[:2], d[2:4], d[4:], suf)
    if style == "lower":
        return (p + d + suf).lower()
    return p + d + suf


def g_ipv4(ctx, arg):
    if arg == "priv" or (arg is None and R.random() < 0.35):
        k = R.randint(0, 2)
        if k == 0:
            return "10.%d.%d.%d" % (R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))
        if k == 1:
            return "192.168.%d.%d" % (R.randint(0, 255), R.randint(1, 254))
        return "172.%d.%d.%d" % (R.randint(16, 31), R.randint(0, 255), R.randint(1, 254))
    while True:
        a = R.randint(1, 223)
        b = R.randint(0, 255)
        if a in (10, 127, 0, 169, 100) or (a == 172 and 16 <= b <= 31) or (a == 192 and b in (0, 168)) \
                or (a == 198 and b in (18, 19, 51)) or (a == 203 and b == 0):
            continue
        return "%d.%d.%d.%d" % (a, b, R.randint(0, 255), R.randint(1, 254))


V6_PREFIX = ["2a02:8108", "2001:4860", "2a01:4f8", "2600:1f18", "2003:e6", "2a00:1450", "2001:67c", "2604:a880",
             "2a03:2880", "2406:da18", "2a0e:97c0"]


def g_ipv6(ctx, arg):
    style = arg or wpick([("comp", 5), ("full", 2), ("ll", 1.5), ("upper", 1)])
    if style == "ll":
        s = "fe80::" + ":".join("%x" % R.randint(1, 0xffff) for _ in range(4))
    else:
        pre = R.choice(V6_PREFIX).split(":")
        rest = ["%x" % R.randint(0, 0xffff) for _ in range(8 - len(pre))]
        groups = pre + rest
        if style == "full":
            s = ":".join(g.zfill(4) for g in groups)
        else:
            k = R.randint(len(pre) + 1, 6)
            tail = R.randint(1, 7 - k)
            s = ":".join(groups[:k]) + "::" + ":".join(groups[8 - tail:])
            if style == "upper":
                s = s.upper()
    ipaddress.IPv6Address(s)
    return s


OUIS = ["3C:22:FB", "00:1B:63", "F4:5C:89", "B8:27:EB", "DC:A6:32", "00:50:56", "00:0C:29", "52:54:00", "A4:83:E7",
        "8C:85:90", "00:1A:11", "F0:18:98", "AC:DE:48", "E4:5F:01", "00:25:90"]


def g_mac(ctx, arg):
    oct_ = R.choice(OUIS).split(":") + ["%02X" % R.randint(0, 255) for _ in range(3)]
    style = arg or wpick([("colon", 5), ("lower", 3), ("dash", 2), ("cisco", 1)])
    if style == "colon":
        return ":".join(oct_)
    if style == "lower":
        return ":".join(oct_).lower()
    if style == "dash":
        return "-".join(oct_)
    h = "".join(oct_).lower()
    return "%s.%s.%s" % (h[:4], h[4:8], h[8:])


MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"],
}


def fmt_date(lang, y, m, d, style=None):
    if style == "iso":
        return "%04d-%02d-%02d" % (y, m, d)
    if lang in ("en", "us", "uk"):
        if lang == "uk" or (lang == "en" and R.random() < 0.4):
            return R.choice(["%d %s %d" % (d, MONTHS["en"][m - 1], y), "%02d/%02d/%04d" % (d, m, y),
                             "%d %s %d" % (d, MONTHS["en"][m - 1][:3], y), "%04d-%02d-%02d" % (y, m, d)])
        return R.choice(["%s %d, %d" % (MONTHS["en"][m - 1], d, y), "%02d/%02d/%04d" % (m, d, y),
                         "%d/%d/%d" % (m, d, y), "%04d-%02d-%02d" % (y, m, d), "%s %d, %d" % (MONTHS["en"][m - 1][:3], d, y)])
    if lang == "de":
        return R.choice(["%02d.%02d.%04d" % (d, m, y), "%d.%d.%d" % (d, m, y), "%d. %s %d" % (d, MONTHS["de"][m - 1], y),
                         "%02d.%02d.%04d" % (d, m, y), "%04d-%02d-%02d" % (y, m, d)])
    if lang == "fr":
        dd = "1er" if d == 1 else str(d)
        return R.choice(["%02d/%02d/%04d" % (d, m, y), "%s %s %d" % (dd, MONTHS["fr"][m - 1], y),
                         "%02d/%02d/%04d" % (d, m, y), "%02d-%02d-%04d" % (d, m, y), "%02d.%02d.%04d" % (d, m, y)])
    if lang == "es":
        return R.choice(["%02d/%02d/%04d" % (d, m, y), "%d de %s de %d" % (d, MONTHS["es"][m - 1], y),
                         "%02d-%02d-%04d" % (d, m, y), "%d/%d/%d" % (d, m, y)])
    raise ValueError(lang)


def g_dob(ctx, arg):
    y, m, d = R.randint(1948, 2006), R.randint(1, 12), R.randint(1, 28)
    return fmt_date(arg or ctx.lang, y, m, d, "iso" if arg == "iso" else None)


def g_aws_key(ctx, arg):
    return "AKIA" + rs(UP + "234567", 16)


def g_aws_secret(ctx, arg):
    return rs(UP + LO + DIG + "/+", 40)


def github_classic(prefix=None):
    p = prefix or wpick([("ghp", 6), ("gho", 1), ("ghu", 1), ("ghs", 1), ("ghr", 0.5)])
    body = rs(B62, 30)
    return "%s_%s%s" % (p, body, b62(binascii.crc32(body.encode()), 6))


def g_github(ctx, arg):
    if arg == "pat" or (arg is None and R.random() < 0.25):
        return "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59)
    return github_classic(arg if arg in ("ghp", "gho", "ghu", "ghs", "ghr") else None)


def g_gitlab(ctx, arg):
    p = arg or wpick([("glpat-", 8), ("glrt-", 1), ("gldt-", 1)])
    return p + rs(ALNUM + "-_", 20)


def g_slack(ctx, arg):
    if arg == "xoxp" or (arg is None and R.random() < 0.4):
        return "xoxp-%s-%s-%s-%s" % (digits(R.randint(10, 12), True), digits(R.randint(10, 12), True),
                                     digits(R.randint(10, 12), True), rs(HEX, 32))
    return "xoxb-%s-%s-%s" % (digits(R.randint(10, 12), True), digits(R.randint(10, 13), True), rs(ALNUM, 24))


def g_slack_hook(ctx, arg):
    return "hooks.slack.com/services/T%s/B%s/%s" % (rs(UP + DIG, R.choice([8, 9, 10])), rs(UP + DIG, R.choice([8, 9, 10, 11])),
                                                     rs(ALNUM, 24))


def g_stripe(ctx, arg):
    p = arg or wpick([("sk_live_", 4), ("rk_live_", 1)])
    n = R.choice([24, 99, 99])
    body = ("51" + rs(ALNUM, n - 2)) if n == 99 else rs(ALNUM, n)
    return p + body


def g_google(ctx, arg):
    return "AIza" + rs(ALNUM + "-_", 35)


def g_openai(ctx, arg):
    kind = arg or wpick([("proj", 6), ("proj58", 1.5), ("svcacct", 1), ("legacy", 1.5)])
    if kind == "legacy":
        return "sk-" + rs(ALNUM, 20) + "T3BlbkFJ" + rs(ALNUM, 20)
    n = 58 if kind == "proj58" else 74
    pre = "sk-svcacct-" if kind == "svcacct" else "sk-proj-"
    return pre + rs(B64URL, n) + "T3BlbkFJ" + rs(B64URL, n)


def g_anthropic(ctx, arg):
    return "sk-ant-api03-" + rs(B64URL, 93) + "AA"


PEM_KINDS = [("RSA PRIVATE KEY", "MIIEowIBAAKCAQEA", 1588, 64, 4), ("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 1620, 64, 4),
             ("EC PRIVATE KEY", "MHcCAQEEI", 160, 64, 2), ("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", 340, 70, 2),
             ("ENCRYPTED PRIVATE KEY", "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI", 1752, 64, 0.5),
             ("PGP PRIVATE KEY BLOCK", "lQOYBGX", 1300, 64, 0.4)]


def pem_block(label, prefix, n, width, sep):
    body = prefix + rs(B64[:-2] + "+/", n - len(prefix) - 2)
    body += "==" if R.random() < 0.3 else rs(B64, 2)
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    head = ["-----BEGIN %s-----" % label]
    if label == "PGP PRIVATE KEY BLOCK":
        head += ["", ]
        lines += ["=" + rs(B64, 4)]
    return sep.join(head + lines + ["-----END %s-----" % label])


def g_pem(ctx, arg):
    arg = arg or "plain"
    k = wpick([(x, x[4]) for x in PEM_KINDS])
    if arg.startswith("json"):
        k = R.choice(PEM_KINDS[:2]) if arg == "json" else k
        return pem_block(k[0], k[1], k[2], k[3], "\\n")
    if arg.startswith("yaml"):
        ind = int(arg.split("-")[1]) if "-" in arg else 4
        return pem_block(k[0], k[1], k[2], k[3], "\n" + " " * ind)
    if arg == "crlf":
        return pem_block(k[0], k[1], k[2], k[3], "\r\n")
    if arg in ("rsa", "ec", "openssh", "pkcs8"):
        k = {"rsa": PEM_KINDS[0], "pkcs8": PEM_KINDS[1], "ec": PEM_KINDS[2], "openssh": PEM_KINDS[3]}[arg]
    return pem_block(k[0], k[1], k[2], k[3], "\n")


def g_jwt(ctx, arg):
    alg = arg or wpick([("HS256", 5), ("RS256", 3), ("ES256", 1)])
    hdr = {"alg": alg, "typ": "JWT"}
    if alg != "HS256" and R.random() < 0.6:
        hdr = {"alg": alg, "kid": rs(ALNUM, 16), "typ": "JWT"}
    first, last = ctx.person("jwt")
    iat = R.randint(1700000000, 1760000000)
    pl = wpick([({"sub": digits(10, True), "name": first + " " + last, "iat": iat}, 2),
                ({"sub": "user_" + rs(ALNUM, 12), "email": asciify(first).lower() + "@" + ctx.company()[1],
                  "role": pick("admin", "user", "support"), "iat": iat, "exp": iat + 3600}, 3),
                ({"iss": "https://auth." + ctx.company()[1], "aud": "api", "sub": rs(HEX, 24), "scope": "read:orders write:orders",
                  "iat": iat, "exp": iat + 900}, 2)])
    sig = {"HS256": 32, "RS256": 256, "ES256": 64}[alg]
    h = b64url(json.dumps(hdr, separators=(",", ":")).encode())
    p = b64url(json.dumps(pl, separators=(",", ":")).encode())
    return "%s.%s.%s" % (h, p, b64url(bytes(R.getrandbits(8) for _ in range(sig))))


PW_WORDS = ["Sommer", "Winter", "Kaffee", "Tigre", "Soleil", "Montana", "Falcon", "Orange", "Berlin", "Paris", "Madrid",
            "Dragon", "Kiwi", "Luna", "Nebel", "Pingouin", "Castillo"]


def g_password(ctx, arg):
    arg = arg or "plain"
    safe = ALNUM + "-_.~!"
    wide = safe + "%^&*+=?@$"
    if arg in ("url", "conn"):
        alpha = safe
    elif arg == "env":
        alpha = ALNUM + "-_.!%^*+=?@"
    else:
        alpha = wide
    style = wpick([("rand", 6), ("human", 3), ("xkcd", 1)])
    if style == "rand":
        s = rs(alpha, R.randint(12, 28))
        while not (any(c.isdigit() for c in s) and any(c.isalpha() for c in s)):
            s = rs(alpha, R.randint(12, 28))
    elif style == "human":
        s = R.choice(PW_WORDS) + str(R.randint(1, 2026)) + R.choice("!.-_" if arg in ("url", "conn") else "!.?*%-")
    else:
        s = "-".join(R.choice(["correct", "horse", "battery", "staple", "velvet", "granite", "otter", "lantern",
                               "pepper", "nimbus"]) for _ in range(4)) + str(R.randint(1, 99))
    if s[0] in "-!*?%&@$=+^":
        s = "x" + s
    return s


def g_secret(ctx, arg):
    style = arg or wpick([("hex", 3), ("b62", 4), ("b64", 2), ("uuid", 1), ("pref", 2)])
    if style == "hex":
        return rs(HEX, R.choice([32, 40, 64]))
    if style == "b62":
        return rs(ALNUM, R.choice([24, 32, 40, 48]))
    if style == "b64":
        return rs(B64, 43) + "="
    if style == "uuid":
        return n_uuid(ctx, None)
    return pick("SG.", "key-", "pat_", "tok_", "dp.st.") + rs(ALNUM, R.choice([32, 40])) + \
        (("." + rs(ALNUM + "-_", 43)) if R.random() < 0.3 else "")


# --------------------------------------------------------------- negatives
def n_uuid(ctx, arg):
    h = rs(HEX, 32)
    h = h[:12] + "4" + h[13:16] + R.choice("89ab") + h[17:]
    s = "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
    return s.upper() if arg == "upper" else s


def safe_digits(n, first=None):
    """digits that are not a Luhn-valid card-like run (so a negative is never a plausible card)"""
    while True:
        s = (first or "") + digits(n - len(first or ""))
        if not luhn_ok(s):
            return s


def n_order(ctx, arg):
    return R.choice(["ORD-%d-%s" % (R.randint(2021, 2025), digits(6)), "#%s" % digits(9, True), "A%s" % digits(8),
                     "%s-%s-%s" % (digits(3, True), digits(7), digits(7)), "BE-%s" % digits(8), "PO-%s" % digits(5, True),
                     "SO%s" % digits(7), "#%s" % safe_digits(12, "1")])


def n_invoice(ctx, arg):
    y = R.randint(2022, 2025)
    return R.choice(["RE-%d-%05d" % (y, R.randint(1, 99999)), "INV-%d-%04d" % (y, R.randint(1, 9999)),
                     "F-%d/%05d" % (y, R.randint(1, 99999)), "FAC-%06d" % R.randint(1, 999999),
                     "%d%06d" % (y, R.randint(1, 999999)), "FV%d-%04d" % (y % 100, R.randint(1, 9999))])


def n_date(ctx, arg):
    y, m, d = R.randint(2018, 2025), R.randint(1, 12), R.randint(1, 28)
    return fmt_date(arg or ctx.lang, y, m, d, "iso" if arg == "iso" else None)


def n_ts(ctx, arg):
    s = R.randint(1500000000, 1790000000)
    return str(s * 1000 + R.randint(0, 999)) if arg == "ms" else str(s)


def n_isots(ctx, arg):
    return "%04d-%02d-%02dT%02d:%02d:%02d%s" % (R.randint(2023, 2025), R.randint(1, 12), R.randint(1, 28), R.randint(0, 23),
                                               R.randint(0, 59), R.randint(0, 59),
                                               R.choice([".%03dZ" % R.randint(0, 999), "Z", "+01:00", "+02:00"]))


def n_version(ctx, arg):
    k = arg or R.choice(["four", "win", "semver", "chrome", "deb", "four"])
    if k == "four":
        return "%d.%d.%d.%d" % (R.randint(1, 12), R.randint(0, 9), R.randint(0, 30), R.randint(0, 99))
    if k == "win":
        return "10.0.%d.%d" % (R.choice([19045, 22621, 22631, 26100, 17763]), R.randint(1000, 5000))
    if k == "chrome":
        return "%d.0.%d.%d" % (R.randint(110, 131), R.randint(5400, 6800), R.randint(10, 250))
    if k == "deb":
        return "%d.%d.%d-%dubuntu%d" % (R.randint(1, 9), R.randint(0, 20), R.randint(0, 20), R.randint(0, 3), R.randint(1, 9))
    return "%d.%d.%d" % (R.randint(0, 9), R.randint(0, 40), R.randint(0, 30))


def n_badip(ctx, arg):
    o = [R.randint(1, 254) for _ in range(4)]
    i = R.randrange(4)
    o[i] = R.randint(256, 999)
    return ".".join(map(str, o))


def n_luhn_bad(ctx, arg):
    first = R.choice(["4", "5", "3", "6", "8", "9", "1"])
    s = safe_digits(16, first)
    st = arg or wpick([("space", 4), ("compact", 4), ("dash", 1)])
    return fmt_card(s, st)


def n_bad_iban(ctx, arg):
    cc = arg or iban_country(ctx.lang)
    s = iban_raw(cc)
    good = s[2:4]
    bad = good
    while bad == good:
        bad = "%02d" % R.randint(2, 98)
    s = s[:2] + bad + s[4:]
    assert not iban_ok(s)
    return fmt_iban(s)


def n_isbn(ctx, arg):
    body = pick("978", "979") + digits(9)
    full = body + ean13_digit(body)
    if R.random() < 0.6:
        return "%s-%s-%s-%s-%s" % (full[:3], full[3], full[4:7], full[7:12], full[12])
    return full


def n_ean(ctx, arg):
    while True:
        body = pick("400", "401", "402", "303", "304", "376", "380", "539", "590", "800", "841", "871", "500") + digits(9)
        full = body + ean13_digit(body)
        if not (full[0] in "3456" and luhn_ok(full)):
            return full


def n_ups(ctx, arg):
    s = "1Z" + rs(UP + DIG, 6) + pick("01", "02", "03", "12", "66") + digits(8)
    if arg != "compact" and R.random() < 0.4:
        return "1Z %s %s %s %s %s" % (s[2:5], s[5:8], s[8:10], s[10:14], s[14:])
    return s


def n_dhl(ctx, arg):
    return R.choice(["00340434%s" % digits(12), safe_digits(10, "3"), "JJD%s" % digits(18), "JVGL%s" % digits(14)])


def n_fedex(ctx, arg):
    s = safe_digits(12, R.choice("7"))
    return "%s %s %s" % (s[:4], s[4:8], s[8:]) if R.random() < 0.5 else s


def n_sku(ctx, arg):
    return R.choice(["SKU-%s-%s-%s" % (digits(5), pick("BLK", "WHT", "RED", "NAV"), pick("S", "M", "L", "XL")),
                     "ART-%s-%s" % (digits(5), pick("DE", "FR", "ES", "EU")), "%s-%s" % (rs(UP, 3), digits(6)),
                     "MPN %s%s-%s" % (rs(UP, 2), digits(4), rs(UP + DIG, 3))])


PLACEHOLDERS = {
    "env": ["${DB_PASSWORD}", "${POSTGRES_PASSWORD}", "${SECRET_KEY}", "$API_TOKEN", "${OPENAI_API_KEY:?missing}",
            "changeme", "<your-password>", "__REPLACE_ME__", "${{ secrets.DB_PASSWORD }}", "${VAULT_DB_PASS}"],
    "helm": ["{{ .Values.db.password }}", "{{ .Values.password }}", "{{ .Values.apiKey | quote }}",
             "{{ required \"token\" .Values.token }}", "\"{{ vault_db_password }}\"", "{{ secrets.api_token }}"],
    "key": ["<your-api-key>", "YOUR_API_KEY", "<API_KEY>", "sk-...", "your-token-here", "xxxxxxxxxxxxxxxx",
            "<insert token>", "REPLACE_WITH_YOUR_KEY", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "AKIA****************"],
    "pw": ["changeme", "********", "<password>", "${DB_PASSWORD}", "CHANGE_ME", "[redacted]", "xxxxxxxx", "<secret>"],
    "code": ["os.environ[\"DB_PASSWORD\"]", "process.env.DB_PASSWORD", "os.getenv(\"API_KEY\")", "ENV.fetch(\"STRIPE_KEY\")",
             "System.getenv(\"DB_PASS\")", "config.secret_key"],
}


def n_placeholder(ctx, arg):
    return R.choice(PLACEHOLDERS[arg or "key"])


def n_hexcolor(ctx, arg):
    return "#" + (rs(HEX, 6) if R.random() < 0.8 else rs(HEX, 3))


def n_coords(ctx, arg):
    lat, lon = R.uniform(36.0, 59.0), R.uniform(-9.0, 24.0)
    return R.choice(["%.4f, %.4f" % (lat, lon), "%.6f,%.6f" % (lat, lon), "%.5f %.5f" % (lat, lon)])


def n_price(ctx, arg):
    v = R.randint(100, 2500000) / 100.0
    a = arg or ctx.lang
    ip, fp = int(v), int(round((v - int(v)) * 100))
    if a == "de":
        s = "{:,}".format(ip).replace(",", ".") + ",%02d" % fp
        return R.choice(["%s €" % s, "€ %s" % s, "%s EUR" % s])
    if a == "fr":
        s = "{:,}".format(ip).replace(",", "\u202f") + ",%02d" % fp
        return R.choice(["%s €" % s, "%s\u00a0€" % s, "%s EUR" % s])
    if a == "es":
        s = "{:,}".format(ip).replace(",", ".") + ",%02d" % fp
        return R.choice(["%s €" % s, "%s EUR" % s])
    s = "{:,}".format(ip) + ".%02d" % fp
    return R.choice(["$%s" % s, "£%s" % s, "USD %s" % s, "€%s" % s])


def n_quantity(ctx, arg):
    n = R.randint(1000000, 99999999)
    s = "{:,}".format(n)
    return s.replace(",", R.choice([" ", ".", ","])) if ctx.lang != "en" else s


def n_oid(ctx, arg):
    return "1.3.6.1.4.1.%d.%d.%d" % (R.randint(300, 60000), R.randint(1, 20), R.randint(1, 9))


def n_sshfp(ctx, arg):
    return "SHA256:" + rs(B64, 43)


def n_cert(ctx, arg):
    sep = {"json": "\\n", "yaml": "\n    "}.get(arg, "\n")
    return pem_block("CERTIFICATE", "MIIDdzCCAl+gAwIBAgIUN", 1180, 64, sep)


def n_pubkey(ctx, arg):
    if arg == "pem":
        return pem_block("PUBLIC KEY", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 392, 64, "\n")
    if R.random() < 0.5:
        return "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rs(B64[:-2], 43)
    return "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + rs(B64, 500)


def n_ami(ctx, arg):
    return pick("ami-0", "vpc-0", "subnet-0", "sg-0", "i-0") + rs(HEX, 16)


def n_arn(ctx, arg):
    return "arn:aws:%s" % R.choice(["iam::%s:role/%s" % (digits(12, True), pick("deploy", "ci-runner", "lambda-exec")),
                                    "s3:::%s-%s" % (pick("acme", "nordlicht", "levante"), pick("backups", "logs", "exports")),
                                    "sqs:eu-west-1:%s:orders" % digits(12, True)])


def n_timecode(ctx, arg):
    return "%02d:%02d:%02d:%02d" % (R.randint(0, 2), R.randint(0, 59), R.randint(0, 59), R.randint(0, 24))


def n_vat(ctx, arg):
    return R.choice(["DE%s" % digits(9, True), "FR%s%s" % (digits(2), digits(9, True)), "ESB%s" % digits(8),
                     "ATU%s" % digits(8), "GB%s" % digits(9, True), "NL%sB01" % digits(9)])


def n_bic(ctx, arg):
    return R.choice(["COBADEFFXXX", "DEUTDEDBBER", "BNPAFRPPXXX", "CAIXESBBXXX", "INGBNL2A", "NWBKGB2L", "BSCHESMM",
                     "SOGEFRPP", "GENODEF1M04", "BYLADEM1001"])


def n_siret(ctx, arg):
    s = luhn_complete(pick("41", "44", "52", "79", "81", "82") + digits(11))
    return "%s %s %s %s" % (s[:3], s[3:6], s[6:9], s[9:]) if R.random() < 0.6 else s


def n_zip4(ctx, arg):
    return "%05d-%04d" % (R.randint(10001, 99950), R.randint(1, 9999))


def n_bad_ssn(ctx, arg):
    k = R.randint(0, 3)
    if k == 0:
        return "000-%02d-%04d" % (R.randint(1, 99), R.randint(1, 9999))
    if k == 1:
        return "666-%02d-%04d" % (R.randint(1, 99), R.randint(1, 9999))
    if k == 2:
        return "%03d-00-%04d" % (R.randint(1, 665), R.randint(1, 9999))
    return "%03d-%02d-0000" % (R.randint(1, 665), R.randint(1, 99))


def n_bignum(ctx, arg):
    return safe_digits(R.choice([20, 21]), "1")


def n_integrity(ctx, arg):
    return "sha512-" + rs(B64, 86) + "=="


def n_digest(ctx, arg):
    return "sha256:" + rs(HEX, 64)


def n_logtime(ctx, arg):
    return "%02d/%s/%d:%02d:%02d:%02d +0000" % (R.randint(1, 28), pick("Jan", "Feb", "Mar", "Apr", "May", "Jun"),
                                                R.randint(2023, 2025), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59))


def n_custno(ctx, arg):
    return R.choice(["KD-%s" % digits(8), "%s-%s" % (digits(4, True), digits(4)), "C%s" % digits(7), "CLI-%s" % digits(6),
                     "%s" % digits(6, True)])


def n_hash(ctx, arg):
    return rs(HEX, {"md5": 32, "sha1": 40, "sha256": 64, "git7": 7, "git": 40}[arg or "sha256"])


GEN = {
    "EMAIL": g_email, "PHONE": g_phone, "CREDIT_CARD": g_card, "IBAN": g_iban, "US_SSN": g_ssn, "UK_NINO": g_nino,
    "IPV4": g_ipv4, "IPV6": g_ipv6, "MAC": g_mac, "DATE_OF_BIRTH": g_dob, "AWS_ACCESS_KEY": g_aws_key,
    "AWS_SECRET_KEY": g_aws_secret, "GITHUB_TOKEN": g_github, "GITLAB_TOKEN": g_gitlab, "SLACK_TOKEN": g_slack,
    "SLACK_WEBHOOK": g_slack_hook, "STRIPE_KEY": g_stripe, "GOOGLE_API_KEY": g_google, "OPENAI_API_KEY": g_openai,
    "ANTHROPIC_API_KEY": g_anthropic, "PRIVATE_KEY": g_pem, "JWT": g_jwt, "PASSWORD": g_password, "SECRET": g_secret,
}
ALIASES = {"DOB": "DATE_OF_BIRTH", "CARD": "CREDIT_CARD", "SSN": "US_SSN", "NINO": "UK_NINO", "AWS_KEY": "AWS_ACCESS_KEY",
           "AWS_SECRET": "AWS_SECRET_KEY", "GH": "GITHUB_TOKEN", "GL": "GITLAB_TOKEN", "PEM": "PRIVATE_KEY", "PW": "PASSWORD"}
NEG = {
    "ORDER": n_order, "INVOICE": n_invoice, "UUID": n_uuid, "DATE": n_date, "UNIX_TS": n_ts, "ISO_TS": n_isots,
    "VERSION": n_version, "BAD_IP": n_badip, "LUHN_BAD": n_luhn_bad, "BAD_IBAN": n_bad_iban, "ISBN": n_isbn, "EAN": n_ean,
    "UPS": n_ups, "DHL": n_dhl, "FEDEX": n_fedex, "SKU": n_sku, "PLACEHOLDER": n_placeholder, "HEX_COLOR": n_hexcolor,
    "COORDS": n_coords, "PRICE": n_price, "QUANTITY": n_quantity, "OID": n_oid, "SSH_FP": n_sshfp, "CERT": n_cert,
    "PUBKEY": n_pubkey, "AWS_ID": n_ami, "ARN": n_arn, "TIMECODE": n_timecode, "VAT_ID": n_vat, "BIC": n_bic,
    "SIRET": n_siret, "ZIP4": n_zip4, "BAD_SSN": n_bad_ssn, "BIGNUM": n_bignum, "INTEGRITY": n_integrity,
    "DIGEST": n_digest, "LOGTIME": n_logtime, "CUSTNO": n_custno, "HASH": n_hash,
}


def fill(ctx, name, arg):
    base, _, tag = name.partition(".")
    if base in ("first", "last", "name"):
        f, l = ctx.person(tag)
        return {"first": f, "last": l, "name": f + " " + l}[base]
    key = name
    if key in ctx.cache and base not in ("num", "status", "bytes", "ms", "port", "path", "ua"):
        return ctx.cache[key]
    lang = ctx.lang
    v = {
        "company": lambda: ctx.company()[0],
        "domain": lambda: ctx.company()[1],
        "city": lambda: R.choice(CITY[lang]),
        "street": lambda: R.choice(STREET[lang]),
        "zip": lambda: R.choice(ZIP[lang]),
        "host": lambda: R.choice(HOSTS),
        "user": lambda: R.choice(USERS),
        "db": lambda: R.choice(DBS),
        "product": lambda: R.choice(PRODUCTS[lang]),
        "num": lambda: str(R.randint(2, 40)),
        "port": lambda: str(R.choice([443, 8443, 52144, 60412, 33018, 49152])),
        "ms": lambda: str(R.randint(3, 900)),
        "status": lambda: R.choice(["200", "200", "200", "201", "204", "301", "404", "401", "500"]),
        "bytes": lambda: str(R.randint(120, 48000)),
        "path": lambda: R.choice(["/api/v1/orders", "/login", "/static/app.js", "/api/v2/customers/search", "/health",
                                  "/checkout", "/v1/chat/completions", "/favicon.ico"]),
        "ua": lambda: R.choice(["curl/8.5.0", "python-requests/2.31.0", "Go-http-client/2.0", "okhttp/4.12.0"]),
    }[base]()
    ctx.cache[key] = v
    return v


MARK = re.compile(r"⟦([^⟧]+)⟧")


def render(tpl, lang):
    ctx = Ctx(lang)
    out = bytearray()
    ents, negs = [], []
    bound = {}
    pos = 0
    for m in MARK.finditer(tpl):
        out += tpl[pos:m.start()].encode()
        pos = m.end()
        tok = m.group(1)
        tok, _, bind = tok.partition("@")
        if tok.startswith("~"):
            name, _, arg = tok[1:].partition(":")
            val = fill(ctx, name, arg or None)
            out += val.encode()
            continue
        neg = tok.startswith("!")
        name, _, arg = tok.lstrip("!").partition(":")
        if bind and bind in bound:
            val = bound[bind]
        elif neg:
            val = NEG[name](ctx, arg or None)
        else:
            name = ALIASES.get(name, name)
            val = GEN[name](ctx, arg or None)
        if bind:
            bound[bind] = val
        s = len(out)
        out += val.encode()
        if neg:
            negs.append({"kind": name, "start": s, "end": len(out)})
        else:
            ents.append({"type": ALIASES.get(name, name), "start": s, "end": len(out)})
    out += tpl[pos:].encode()
    return out.decode(), ents, negs


# --------------------------------------------------------------- templates
T = []  # (kind, lang, count, template or callable)


def add(kind, lang, n, tpl):
    T.append((kind, lang, n, tpl))


# TEMPLATES-BEGIN
def register(add):
    # ------------------------------------------------------------ support tickets
    add("ticket", "en", 6, """Subject: Charged twice for order ⟦!ORDER⟧

Hi team,

I was charged twice for the same order yesterday (⟦!PRICE:en⟧ each). The card I used is ⟦CREDIT_CARD⟧, exp 09/27.
Please refund the duplicate to my bank account instead: IBAN ⟦IBAN⟧.

You can reach me at ⟦PHONE:US⟧ or ⟦EMAIL:p⟧.

Thanks,
⟦~first⟧ ⟦~last⟧""")
    add("ticket", "de", 6, """Betreff: Doppelte Abbuchung – Bestellung ⟦!ORDER⟧

Guten Tag,

für meine Bestellung vom ⟦!DATE:de⟧ wurde meine Kreditkarte (⟦CREDIT_CARD⟧) zweimal mit ⟦!PRICE:de⟧ belastet.
Bitte erstatten Sie den Betrag auf mein Konto:
IBAN: ⟦IBAN:DE⟧
Rückfragen gerne telefonisch unter ⟦PHONE:DE⟧ oder per Mail an ⟦EMAIL:p⟧.

Mit freundlichen Grüßen
⟦~first⟧ ⟦~last⟧
⟦~street⟧, ⟦~zip⟧ ⟦~city⟧""")
    add("ticket", "fr", 6, """Objet : Double prélèvement (commande ⟦!ORDER⟧)

Bonjour,

Ma carte bancaire ⟦CREDIT_CARD⟧ a été débitée deux fois de ⟦!PRICE:fr⟧ le ⟦!DATE:fr⟧.
Merci de rembourser le doublon sur mon compte : IBAN ⟦IBAN:FR⟧.
Vous pouvez me joindre au ⟦PHONE:FR⟧ ou par e-mail : ⟦EMAIL:p⟧

Cordialement,
⟦~first⟧ ⟦~last⟧""")
    add("ticket", "es", 6, """Asunto: Cobro duplicado del pedido ⟦!ORDER⟧

Hola:

Me han cobrado dos veces ⟦!PRICE:es⟧ en la tarjeta ⟦CREDIT_CARD⟧ el ⟦!DATE:es⟧.
¿Podéis devolver el importe a mi cuenta? IBAN: ⟦IBAN:ES⟧
Mi teléfono es ⟦PHONE:ES⟧ y mi correo ⟦EMAIL:p⟧.

Un saludo,
⟦~first⟧ ⟦~last⟧""")
    add("ticket", "en", 5, """**Ticket #⟦!INVOICE⟧ – identity verification**
Customer: ⟦~first⟧ ⟦~last⟧
DOB: ⟦DOB:en⟧
SSN: ⟦SSN⟧
Phone on file: ⟦PHONE:US⟧
Email: ⟦EMAIL:p⟧
Notes: customer called from a new number, verified with last 4 of SSN and date of birth. Ticket opened ⟦!DATE:en⟧.""")
    add("ticket", "en", 5, """Hello, I'm trying to update my details for my pension. My National Insurance number is ⟦NINO⟧ and I was born on ⟦DOB:uk⟧.
My new mobile is ⟦PHONE:UKm⟧ and my email address is ⟦EMAIL:p⟧. Reference from your letter: ⟦!CUSTNO⟧ (dated ⟦!DATE:uk⟧).
Many thanks, ⟦~first⟧""")
    add("ticket", "de", 5, """Hallo Support,

mein Paket (DHL-Sendungsnummer ⟦!DHL⟧) ist seit ⟦!DATE:de⟧ nicht angekommen. Bestellnummer: ⟦!ORDER⟧, Artikel ⟦!SKU⟧ (EAN ⟦!EAN⟧).
Lieferadresse: ⟦~first⟧ ⟦~last⟧, ⟦~street⟧, ⟦~zip⟧ ⟦~city⟧
Bitte rufen Sie mich an: ⟦PHONE:DEm⟧ – tagsüber auch ⟦PHONE:DE⟧.

Danke!""")
    add("ticket", "fr", 5, """Bonjour,
mon colis UPS ⟦!UPS⟧ est bloqué depuis le ⟦!DATE:fr⟧. Numéro de commande : ⟦!ORDER⟧.
Adresse : ⟦~street⟧, ⟦~zip⟧ ⟦~city⟧.
Tél. : ⟦PHONE:FR⟧ – portable ⟦PHONE:FRm⟧
Merci d'avance, ⟦~first⟧ ⟦~last⟧""")
    add("ticket", "es", 5, """Hola, el envío FedEx ⟦!FEDEX⟧ del pedido ⟦!ORDER⟧ sigue «en tránsito» desde el ⟦!DATE:es⟧.
Podéis llamarme al ⟦PHONE:ESm⟧ (mañanas) o escribirme a ⟦EMAIL:p⟧.
Dirección: ⟦~street⟧, ⟦~zip⟧ ⟦~city⟧. Gracias.""")
    add("ticket", "en", 5, """[IT-⟦!CUSTNO⟧] VPN drops every 10 minutes

Reporter: ⟦~first⟧ ⟦~last⟧ (⟦EMAIL:work⟧)
Laptop: ThinkPad, Windows build ⟦!VERSION:win⟧, client ⟦!VERSION:semver⟧
Public IP: ⟦IPV4⟧ – tunnel IP ⟦IPV4:priv⟧
Wi-Fi adapter MAC: ⟦MAC⟧
Correlation id: ⟦!UUID⟧
Started after update on ⟦!DATE:iso⟧.""")
    add("ticket", "de", 4, """Störungsmeldung ⟦!CUSTNO⟧
Seit heute Morgen bekommt der Drucker im 2. OG keine Adresse mehr. Alte IP war ⟦IPV4:priv⟧, MAC-Adresse laut Aufkleber ⟦MAC:dash⟧.
Der Router meldet IPv6 ⟦IPV6⟧. Firmware ⟦!VERSION:four⟧.
Ansprechpartner: ⟦~first⟧ ⟦~last⟧, Durchwahl ⟦PHONE:DE⟧""")
    add("ticket", "en", 4, """Hi, my payout keeps failing. I first entered IBAN ⟦!BAD_IBAN⟧ but your form said it was invalid (typo, sorry!).
The correct one is ⟦IBAN⟧. Account holder: ⟦~first⟧ ⟦~last⟧. Payout ref ⟦!INVOICE⟧.""")
    add("ticket", "fr", 4, """Bonjour, suite à mon appel du ⟦!DATE:fr⟧ : je vous confirme mes coordonnées.
Nom : ⟦~last⟧ ⟦~first⟧ – née le ⟦DOB:fr⟧ à ⟦~city⟧
Téléphone : ⟦PHONE:FR⟧
Courriel : ⟦EMAIL:p⟧
RIB / IBAN : ⟦IBAN:FR⟧ (BIC ⟦!BIC⟧)
Numéro client : ⟦!CUSTNO⟧""")
    add("ticket", "es", 4, """Buenos días. Adjunto mis datos para el alta:
- Nombre: ⟦~first⟧ ⟦~last⟧
- Fecha de nacimiento: ⟦DOB:es⟧
- Teléfono móvil: ⟦PHONE:ESm⟧
- Correo: ⟦EMAIL:p⟧
- Cuenta (IBAN): ⟦IBAN:ES⟧
Nº de cliente ⟦!CUSTNO⟧, contrato firmado el ⟦!DATE:es⟧.""")

    # ------------------------------------------------------------ chat messages
    add("chat", "en", 5, """hey, can you ping me on ⟦PHONE⟧ when the deploy is done? I'm out till 3""")
    add("chat", "en", 4, """here's the staging key, don't paste it anywhere public pls: `⟦OPENAI_API_KEY⟧`""")
    add("chat", "en", 4, """I keep getting 401 with this, what am I doing wrong?
```
export ANTHROPIC_API_KEY=⟦ANTHROPIC_API_KEY⟧
python summarize.py --model claude --max-tokens 512
```""")
    add("chat", "de", 5, """Hi! Kannst du mich unter ⟦PHONE:DE⟧ zurückrufen? Meine neue Mailadresse ist übrigens ⟦EMAIL:p⟧.""")
    add("chat", "fr", 5, """Salut ! Tu peux m'appeler au ⟦PHONE:FR⟧ ? Sinon écris-moi à ⟦EMAIL:p⟧ 🙂""")
    add("chat", "es", 5, """¡Hola! Mi número nuevo es ⟦PHONE:ES⟧ y el correo ⟦EMAIL:p⟧. ¡Gracias! 😊""")
    add("chat", "en", 4, """Can you decode this token and tell me why the API says it's expired? ⟦JWT⟧""")
    add("chat", "en", 3, """why is my slack bot failing?? token is ⟦SLACK_TOKEN⟧ and posting to https://⟦SLACK_WEBHOOK⟧ works fine from curl""")
    add("chat", "de", 4, """Der GitHub-Token ⟦GITHUB_TOKEN⟧ läuft morgen ab, kannst du einen neuen erzeugen? Letzter Commit war ⟦!HASH:git7⟧.""")
    add("chat", "fr", 4, """J'ai mis la clé Google « ⟦GOOGLE_API_KEY⟧ » dans le fichier de conf mais l'API Maps renvoie toujours 403…""")
    add("chat", "es", 4, """Oye, el token de GitLab ⟦GITLAB_TOKEN⟧ ya no funciona desde que actualizamos a la ⟦!VERSION:semver⟧. ¿Lo regeneras?""")
    add("chat", "en", 5, """Release ⟦!VERSION⟧ is out 🎉 (commit ⟦!HASH:git⟧). sha256 of the tarball: ⟦!HASH:sha256⟧ – shipped ⟦!DATE:iso⟧.""")
    add("chat", "de", 4, """Bestellung ⟦!ORDER⟧ über ⟦!PRICE:de⟧ ist raus, Sendungsnummer ⟦!DHL⟧, Zustellung voraussichtlich am ⟦!DATE:de⟧.""")
    add("chat", "fr", 4, """Commande ⟦!ORDER⟧ : le livre (ISBN ⟦!ISBN⟧) coûte ⟦!PRICE:fr⟧, livraison prévue le ⟦!DATE:fr⟧.""")
    add("chat", "es", 4, """Pedido ⟦!ORDER⟧, referencia de pago ⟦!LUHN_BAD⟧. Nos vemos en ⟦!COORDS⟧ a las 18:30.""")
    add("chat", "en", 4, """ok so the customer's card ⟦CREDIT_CARD⟧ got declined but the backup card ⟦CREDIT_CARD⟧ went through. Membership no. ⟦!LUHN_BAD⟧ is unchanged.""")
    add("chat", "de", 3, """Kurze Frage: warum bekommt mein Rechner (⟦MAC:lower⟧) seit dem Update ⟦!VERSION:win⟧ die IP ⟦IPV4:priv⟧ statt ⟦IPV4:priv⟧?""")
    add("chat", "en", 3, """fyi ⟦~first⟧'s DOB is ⟦DOB:en⟧, we need it for the insurance form. her SSN is ⟦SSN⟧""")
    add("chat", "es", 3, """Te paso la clave de Stripe de producción para el script: ⟦STRIPE_KEY⟧ (bórrala del chat luego 🙏)""")
    add("chat", "fr", 3, """Le webhook Slack de l'équipe : https://⟦SLACK_WEBHOOK⟧ – ne le partage pas hors du canal stp.""")
    add("chat", "en", 3, """lol the CSS is `color: ⟦!HEX_COLOR⟧; background: ⟦!HEX_COLOR⟧` and it still looks wrong. Build ⟦!HASH:git7⟧, ts ⟦!UNIX_TS⟧""")

    # ------------------------------------------------------------ emails
    add("email", "en", 5, """From: ⟦~first⟧ ⟦~last⟧ <⟦EMAIL:work⟧>
To: ⟦EMAIL:role⟧
Date: ⟦!DATE:iso⟧
Subject: Re: Invoice ⟦!INVOICE⟧

Hi,

please find the corrected invoice attached. Payment is due by ⟦!DATE:en⟧; our bank details haven't changed (IBAN ⟦IBAN:GB⟧).

Best regards,
⟦~first⟧ ⟦~last⟧
Accounts Receivable | ⟦~company⟧
Direct: ⟦PHONE:UK⟧ | Mobile: ⟦PHONE:UKm⟧""")
    add("email", "de", 5, """Von: ⟦~first⟧ ⟦~last⟧ <⟦EMAIL:work⟧>
An: ⟦EMAIL:p.b⟧
Betreff: Angebot ⟦!INVOICE⟧

Sehr geehrte Damen und Herren,

anbei unser Angebot vom ⟦!DATE:de⟧. Für Rückfragen stehe ich gerne zur Verfügung.

Mit freundlichen Grüßen
⟦~first⟧ ⟦~last⟧
⟦~company⟧ · ⟦~street⟧ · ⟦~zip⟧ ⟦~city⟧
Tel.: ⟦PHONE:DE⟧ | Fax: ⟦PHONE:DE⟧ | Mobil: ⟦PHONE:DEm⟧
USt-IdNr.: ⟦!VAT_ID⟧ · Bankverbindung: IBAN ⟦IBAN:DE⟧, BIC ⟦!BIC⟧""")
    add("email", "fr", 5, """De : ⟦~first⟧ ⟦~last⟧ <⟦EMAIL:work⟧>
Objet : Devis n° ⟦!INVOICE⟧

Madame, Monsieur,

Veuillez trouver ci-joint notre devis du ⟦!DATE:fr⟧.

Bien cordialement,
⟦~first⟧ ⟦~last⟧
⟦~company⟧ – SIRET ⟦!SIRET⟧
Tél. : ⟦PHONE:FR⟧ · Portable : ⟦PHONE:FRm⟧
⟦~street⟧, ⟦~zip⟧ ⟦~city⟧""")
    add("email", "es", 5, """De: ⟦~first⟧ ⟦~last⟧ <⟦EMAIL:work⟧>
Asunto: Presupuesto ⟦!INVOICE⟧

Estimado cliente:

Le adjunto el presupuesto con fecha ⟦!DATE:es⟧. Quedo a su disposición.

Atentamente,
⟦~first⟧ ⟦~last⟧
⟦~company⟧ · CIF ⟦!VAT_ID⟧
Tel.: ⟦PHONE:ES⟧ · Móvil: ⟦PHONE:ESm⟧
Cuenta: ⟦IBAN:ES⟧""")
    add("email", "en", 4, """Hi ⟦~first⟧,

Great to meet you at the conference! As promised, my contacts:
  • US office: ⟦PHONE:US⟧
  • Amsterdam: ⟦PHONE:NL⟧
  • Milan: ⟦PHONE:IT⟧
  • e-mail: ⟦EMAIL:p.b⟧

Cheers,
⟦~first.b⟧""")
    add("email", "en", 4, """Hello,

Your order ⟦!ORDER⟧ has shipped via UPS (tracking ⟦!UPS⟧). Items: ⟦~product⟧ (SKU ⟦!SKU⟧), ⟦~product⟧ (EAN ⟦!EAN⟧).
Total charged: ⟦!PRICE:en⟧ on ⟦!DATE:en⟧.

Questions? Reply to this e-mail or call ⟦PHONE:USi⟧.""")
    add("email", "de", 3, """Hallo ⟦~first⟧,

anbei die Zugangsdaten für das Testsystem (bitte nicht weiterleiten):
  Host: ⟦IPV4⟧
  Benutzer: ⟦~user⟧
  DATABASE_URL=postgres://⟦~user⟧:⟦PW:url⟧@⟦~host⟧:5432/⟦~db⟧

Gruß ⟦~first.b⟧""")

    # ------------------------------------------------------------ env files
    add("env", "en", 6, """# .env.production
APP_ENV=production
APP_URL=https://app.⟦~domain⟧
LOG_LEVEL=info
DB_HOST=⟦IPV4:priv⟧
DB_PORT=5432
DB_USER=⟦~user⟧
DB_PASSWORD=⟦PW:url@pw⟧
DATABASE_URL=postgresql://⟦~user⟧:⟦PW:url@pw⟧@⟦~host⟧:5432/⟦~db⟧
REDIS_URL=redis://:⟦PW:url⟧@redis:6379/0
STRIPE_SECRET_KEY=⟦STRIPE_KEY⟧
AWS_ACCESS_KEY_ID=⟦AWS_KEY⟧
AWS_SECRET_ACCESS_KEY=⟦AWS_SECRET⟧
AWS_DEFAULT_REGION=eu-central-1
OPENAI_API_KEY=⟦OPENAI_API_KEY⟧
BUILD_SHA=⟦!HASH:git⟧
RELEASE=⟦!VERSION:semver⟧
""")
    add("env", "de", 4, """# Konfiguration Staging – NICHT committen!
# Datenbank
POSTGRES_USER=⟦~user⟧
POSTGRES_PASSWORD="⟦PW:env⟧"
POSTGRES_DB=⟦~db⟧
# Mail
SMTP_HOST=smtp.⟦~domain⟧
SMTP_USER=⟦EMAIL:role⟧
SMTP_PASSWORD='⟦PW:env⟧'
# Sonstiges
SECRET_KEY=⟦SECRET⟧
SENTRY_RELEASE=⟦!HASH:git7⟧
GOOGLE_MAPS_API_KEY=⟦GOOGLE_API_KEY⟧
""")
    add("env", "en", 5, """# .env.example – copy to .env and fill in
DB_PASSWORD=⟦!PLACEHOLDER:env⟧
POSTGRES_PASSWORD=⟦!PLACEHOLDER:env⟧
OPENAI_API_KEY=⟦!PLACEHOLDER:key⟧
STRIPE_SECRET_KEY=⟦!PLACEHOLDER:key⟧
GITHUB_TOKEN=⟦!PLACEHOLDER:key⟧
SESSION_SECRET=⟦!PLACEHOLDER:pw⟧
APP_VERSION=⟦!VERSION⟧
INSTANCE_ID=⟦!UUID⟧
""")
    add("env", "en", 5, """$ export AWS_ACCESS_KEY_ID=⟦AWS_KEY⟧
$ export AWS_SECRET_ACCESS_KEY=⟦AWS_SECRET⟧
$ export GITHUB_TOKEN=⟦GITHUB_TOKEN⟧
$ aws s3 ls s3://backups-⟦~db⟧/ --region eu-west-1
An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied""")
    add("env", "en", 4, """[default]
aws_access_key_id = ⟦AWS_KEY⟧
aws_secret_access_key = ⟦AWS_SECRET⟧
region = us-east-1

[prod]
aws_access_key_id=⟦AWS_KEY⟧
aws_secret_access_key=⟦AWS_SECRET⟧
role_arn = ⟦!ARN⟧
""")
    add("env", "fr", 3, """# .env (recette) – généré le ⟦!DATE:fr⟧
BDD_HOTE=⟦IPV4:priv⟧
BDD_UTILISATEUR=⟦~user⟧
BDD_PASSWORD=⟦PW:env⟧
CLE_API_GOOGLE=⟦GOOGLE_API_KEY⟧
""")
    add("env", "es", 3, """# variables del despliegue (staging)
export PGPASSWORD=⟦PW:env⟧
export GITLAB_TOKEN=⟦GITLAB_TOKEN⟧
export SLACK_BOT_TOKEN=⟦SLACK_TOKEN⟧
export SLACK_WEBHOOK_URL=https://⟦SLACK_WEBHOOK⟧
psql -h ⟦IPV4:priv⟧ -U ⟦~user⟧ ⟦~db⟧ -c 'select count(*) from pedidos'""")
    add("env", "en", 4, """API_KEY=⟦SECRET⟧
API_SECRET=⟦SECRET⟧
JWT_SECRET=⟦SECRET:b64⟧
WEBHOOK_SIGNING_SECRET=⟦SECRET:pref⟧
MAILGUN_API_KEY=⟦SECRET:pref⟧
ANTHROPIC_API_KEY=⟦ANTHROPIC_API_KEY⟧
""")
    # ------------------------------------------------------------ YAML
    add("yaml", "en", 5, """# config/production.yml
server:
  port: 8080
  public_url: https://api.⟦~domain⟧
database:
  host: ⟦~host⟧
  port: 5432
  username: ⟦~user⟧
  password: "⟦PW⟧"
  pool: 20
smtp:
  host: smtp.⟦~domain⟧
  username: ⟦EMAIL:role⟧
  password: ⟦PW:env⟧
payments:
  stripe_secret_key: ⟦STRIPE_KEY⟧
integrations:
  api_token: ⟦SECRET⟧
build:
  commit: ⟦!HASH:git⟧
  version: ⟦!VERSION:semver⟧
""")
    add("yaml", "en", 4, """apiVersion: v1
kind: Secret
metadata:
  name: ⟦~db⟧-credentials
  namespace: prod
type: Opaque
stringData:
  DB_USER: ⟦~user⟧
  DB_PASSWORD: ⟦PW:env⟧
  DATABASE_URL: "postgres://⟦~user⟧:⟦PW:url⟧@⟦~host⟧:5432/⟦~db⟧?sslmode=require"
  GITHUB_TOKEN: ⟦GITHUB_TOKEN⟧
  SLACK_WEBHOOK: "https://⟦SLACK_WEBHOOK⟧"
""")
    add("yaml", "en", 5, """# values.yaml (chart ⟦!VERSION:semver⟧)
image:
  repository: registry.⟦~domain⟧/shop/api
  tag: "⟦!HASH:git7⟧"
  digest: ⟦!DIGEST⟧
db:
  host: ⟦~host⟧
  password: ⟦!PLACEHOLDER:helm⟧
apiKey: ⟦!PLACEHOLDER:helm⟧
podAnnotations:
  checksum/config: ⟦!HASH:sha256⟧
resources:
  limits: {cpu: 500m, memory: 512Mi}
""")
    add("yaml", "en", 4, """name: deploy
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-22.04
    env:
      AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
      AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
      NPM_TOKEN: ⟦!PLACEHOLDER:env⟧
      # TODO remove, temporary while secrets are broken:
      GITLAB_TOKEN: ⟦GITLAB_TOKEN⟧
    steps:
      - uses: actions/checkout@v4
      - run: ./deploy.sh --version ⟦!VERSION:semver⟧
""")
    add("yaml", "de", 4, """# group_vars/datenbank.yml
# Zugangsdaten Produktion (TODO: in Vault verschieben)
mysql_root_password: ⟦PW⟧
mysql_users:
  - name: ⟦~user⟧
    password: "⟦PW⟧"
    priv: "⟦~db⟧.*:ALL"
ansible_become_password: ⟦PW:env⟧
backup_ziel: "s3://backup-⟦~db⟧"
letzte_pruefung: ⟦!DATE:de⟧
""")
    add("yaml", "en", 4, """apiVersion: v1
kind: Secret
metadata:
  name: ingress-tls
type: kubernetes.io/tls
stringData:
  tls.crt: |
    ⟦!CERT:yaml⟧
  tls.key: |
    ⟦PEM:yaml-4⟧
""")
    add("yaml", "es", 3, """# application.yml (servicio de pedidos)
spring:
  datasource:
    url: jdbc:postgresql://⟦~host⟧:5432/⟦~db⟧
    username: ⟦~user⟧
    password: ⟦PW⟧
jwt:
  secret: ⟦SECRET:b64⟧
  caducidad: 3600
notificaciones:
  correo_admin: ⟦EMAIL:work⟧
  telefono_guardia: "⟦PHONE:ES⟧"
""")
    add("yaml", "fr", 3, """# docker/config.yaml – environnement de recette
base_de_donnees:
  hote: ⟦IPV4:priv⟧
  utilisateur: ⟦~user⟧
  password: '⟦PW⟧'
cle_api_openai: ⟦OPENAI_API_KEY⟧
mise_a_jour: ⟦!DATE:iso⟧
couleur_theme: "⟦!HEX_COLOR⟧"
""")

    # ------------------------------------------------------------ docker-compose
    add("compose", "en", 5, """version: "3.9"
services:
  db:
    image: postgres:16.2
    environment:
      POSTGRES_USER: ⟦~user⟧
      POSTGRES_PASSWORD: ⟦PW:url@pw⟧
    volumes:
      - pgdata:/var/lib/postgresql/data
  api:
    image: ghcr.io/acme/api@⟦!DIGEST⟧
    environment:
      - DATABASE_URL=postgresql://⟦~user⟧:⟦PW:url@pw⟧@db:5432/⟦~db⟧
      - GITHUB_TOKEN=⟦GITHUB_TOKEN⟧
      - SLACK_WEBHOOK_URL=https://⟦SLACK_WEBHOOK⟧
      - GOOGLE_API_KEY=⟦GOOGLE_API_KEY⟧
    ports:
      - "8080:8080"
volumes:
  pgdata: {}
""")
    add("compose", "de", 4, """# docker-compose.yml – lokale Entwicklung
services:
  mariadb:
    image: mariadb:11.3
    environment:
      MARIADB_ROOT_PASSWORD: "⟦PW⟧"
      MARIADB_PASSWORD: ⟦!PLACEHOLDER:env⟧
  redis:
    image: redis:7.2-alpine
    environment:
      REDIS_PASSWORD: ⟦PW:env⟧
  worker:
    build: .
    environment:
      STRIPE_API_KEY: ⟦STRIPE_KEY⟧
      ANTHROPIC_API_KEY: ⟦ANTHROPIC_API_KEY⟧
      INSTANZ: ⟦!UUID⟧
""")
    add("compose", "en", 3, """services:
  mongo:
    image: mongo:7
    environment:
      MONGO_INITDB_ROOT_USERNAME: root
      MONGO_INITDB_ROOT_PASSWORD: ⟦!PLACEHOLDER:env⟧
  app:
    image: node:20-alpine
    environment:
      MONGO_URL: "mongodb://root:⟦PW:url⟧@mongo:27017/⟦~db⟧?authSource=admin"
      SESSION_SECRET: ⟦SECRET⟧
      SLACK_BOT_TOKEN: ⟦SLACK_TOKEN⟧
""")

    # ------------------------------------------------------------ JSON
    add("json", "en", 5, """{
  "service": "billing",
  "db": {"host": "⟦IPV4:priv⟧", "user": "⟦~user⟧", "password": "⟦PW⟧"},
  "stripe": {"secret_key": "⟦STRIPE_KEY⟧", "webhook_secret": "⟦SECRET:pref⟧"},
  "google": {"api_key": "⟦GOOGLE_API_KEY⟧"},
  "build": {"commit": "⟦!HASH:git⟧", "version": "⟦!VERSION⟧", "built_at": ⟦!UNIX_TS⟧}
}""")
    add("json", "en", 5, """{
  "type": "service_account",
  "project_id": "acme-prod-4711",
  "private_key": "⟦PEM:json⟧\\n",
  "client_email": "⟦EMAIL:sa⟧",
  "client_id": "⟦!BIGNUM⟧",
  "auth_uri": "https://accounts.google.com/o/oauth2/auth",
  "token_uri": "https://oauth2.googleapis.com/token"
}""")
    add("json", "en", 5, """POST /api/v2/customers 201
request: {"first_name":"⟦~first⟧","last_name":"⟦~last⟧","email":"⟦EMAIL:p⟧","phone":"⟦PHONE:USi⟧","dob":"⟦DOB:iso⟧","iban":"⟦IBAN:compact⟧","signup_ip":"⟦IPV4⟧"}
response: {"id":"⟦!UUID⟧","created_at":"⟦!ISO_TS⟧","status":"active"}""")
    add("json", "de", 4, """{"kunde":{"vorname":"⟦~first⟧","nachname":"⟦~last⟧","geburtsdatum":"⟦DOB:de⟧","telefon":"⟦PHONE:DE⟧","email":"⟦EMAIL:p⟧"},"bestellung":{"nr":"⟦!ORDER⟧","summe":"⟦!PRICE:de⟧","ean":"⟦!EAN⟧"},"zahlung":{"iban":"⟦IBAN:DE⟧"}}""")
    add("json", "en", 4, """{
  "name": "web-client",
  "version": "⟦!VERSION:semver⟧",
  "lockfileVersion": 3,
  "packages": {
    "node_modules/lodash": {
      "version": "4.17.21",
      "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",
      "integrity": "⟦!INTEGRITY⟧"
    }
  },
  "theme": {"primary": "⟦!HEX_COLOR⟧", "accent": "⟦!HEX_COLOR⟧"},
  "office": {"lat_lon": "⟦!COORDS⟧"}
}""")
    add("json", "en", 4, """{
  "info": {"name": "Orders API", "_postman_id": "⟦!UUID⟧"},
  "variable": [
    {"key": "baseUrl", "value": "https://api.⟦~domain⟧"},
    {"key": "accessToken", "value": "⟦JWT⟧"},
    {"key": "orderId", "value": "⟦!ORDER⟧"}
  ]
}""")
    add("json", "es", 3, """{"usuario":{"nombre":"⟦~first⟧ ⟦~last⟧","correo":"⟦EMAIL:p⟧","movil":"⟦PHONE:ESm⟧","fecha_nacimiento":"⟦DOB:es⟧"},"ultimo_acceso":{"ip":"⟦IPV6⟧","fecha":"⟦!ISO_TS⟧"}}""")
    add("json", "fr", 3, """{"client":{"nom":"⟦~last⟧","prenom":"⟦~first⟧","date_naissance":"⟦DOB:fr⟧","tel":"⟦PHONE:FR⟧","iban":"⟦IBAN:FR⟧"},"commande":"⟦!ORDER⟧","siret_vendeur":"⟦!SIRET⟧"}""")
    add("json", "en", 4, """{"level":"error","ts":"⟦!ISO_TS⟧","msg":"upstream rejected key","config":{"openai_api_key":"⟦OPENAI_API_KEY⟧","anthropic_api_key":"⟦ANTHROPIC_API_KEY⟧","retry":3},"trace_id":"⟦!HASH:md5⟧"}""")
    add("json", "en", 5, """{"deploy_key": "⟦PEM:json-any⟧", "deploy_key_fingerprint": "⟦!SSH_FP⟧", "repo": "acme/infra"}""")
    add("hcl", "en", 4, """# terraform.tfvars
region          = "eu-west-1"
ami_id          = "⟦!AWS_ID⟧"
db_username     = "⟦~user⟧"
db_password     = "⟦PW⟧"
datadog_api_key = "⟦SECRET:hex⟧"
github_token    = "⟦GITHUB_TOKEN⟧"
deploy_role     = "⟦!ARN⟧"
""")
    # ------------------------------------------------------------ logs
    def nginx():
        lines = []
        for i in range(R.randint(3, 6)):
            ip = R.choice(["⟦IPV4⟧", "⟦IPV4⟧", "⟦IPV6⟧"])
            ua = R.choice(['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/⟦!VERSION:chrome⟧ Safari/537.36',
                           'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
                           '⟦~ua⟧'])
            path = R.choice(["⟦~path⟧", "/api/v1/orders/⟦!ORDER⟧", "/track?n=⟦!UPS:compact⟧", "/static/app.⟦!HASH:git7⟧.js",
                             "/unsubscribe?email=⟦EMAIL⟧", "/api/v1/invoices/⟦!INVOICE⟧.pdf"])
            lines.append('%s - - [⟦!LOGTIME⟧] "%s %s HTTP/1.1" ⟦~status⟧ ⟦~bytes⟧ "-" "%s"'
                         % (ip, R.choice(["GET", "GET", "POST"]), path, ua))
        return "\n".join(lines)
    add("log_nginx", "en", 10, nginx)

    add("log_app", "en", 6, """⟦!ISO_TS⟧ INFO  [auth] login ok user=⟦EMAIL⟧ ip=⟦IPV4⟧ session=⟦!UUID⟧ took=⟦~ms⟧ms
⟦!ISO_TS⟧ WARN  [auth] 3 failed logins for ⟦EMAIL⟧ from ⟦IPV6⟧
⟦!ISO_TS⟧ INFO  [device] registered device mac=⟦MAC⟧ fw=⟦!VERSION:four⟧ owner=⟦EMAIL⟧
⟦!ISO_TS⟧ DEBUG [http] GET /api/v1/me 200 req_id=⟦!HASH:md5⟧""")
    add("log_sys", "en", 6, """⟦~city⟧-gw dhcpd[⟦~num⟧]: DHCPDISCOVER from ⟦MAC:lower@m⟧ via eth1
⟦~city⟧-gw dhcpd[⟦~num⟧]: DHCPOFFER on ⟦IPV4:priv@ip⟧ to ⟦MAC:lower@m⟧ (laptop-⟦~first⟧) via eth1
⟦~city⟧-gw dhcpd[⟦~num⟧]: DHCPACK on ⟦IPV4:priv@ip⟧ to ⟦MAC:lower@m⟧ via eth1
⟦~city⟧-gw sshd[⟦~num⟧]: Accepted publickey for deploy from ⟦IPV4⟧ port ⟦~port⟧ ssh2: ED25519 ⟦!SSH_FP⟧
⟦~city⟧-gw kernel: [⟦~num⟧.118823] eth0: renamed from veth⟦!HASH:git7⟧, link up, HWaddr ⟦MAC:colon⟧""")
    add("log_app", "en", 5, """Traceback (most recent call last):
  File "/srv/app/db.py", line 42, in connect
    conn = psycopg2.connect(dsn)
psycopg2.OperationalError: connection to server at "⟦IPV4:priv⟧", port 5432 failed: FATAL:  password authentication failed for user "⟦~user⟧"
DSN was: postgresql://⟦~user⟧:⟦PW:url⟧@⟦~host⟧:5432/⟦~db⟧?connect_timeout=5
request_id=⟦!UUID⟧ release=⟦!VERSION⟧""")
    add("log_app", "en", 5, """[⟦!ISO_TS⟧] DEBUG outgoing request
> POST https://api.⟦~domain⟧/v1/charge
> Authorization: Bearer ⟦JWT⟧
> Content-Type: application/json
> X-Request-Id: ⟦!UUID⟧
< HTTP/1.1 402 Payment Required
< {"error":"card_declined","card_last4":"4242","amount":"⟦!PRICE:en⟧"}""")
    add("log_app", "de", 5, """⟦!ISO_TS⟧ INFO  Benutzer ⟦EMAIL⟧ hat sich von ⟦IPV4⟧ angemeldet (Sitzung ⟦!UUID⟧)
⟦!ISO_TS⟧ INFO  Bestellung ⟦!ORDER⟧ angelegt, Betrag ⟦!PRICE:de⟧, Lieferung an ⟦~zip⟧ ⟦~city⟧
⟦!ISO_TS⟧ WARN  Zahlung fehlgeschlagen: Karte ⟦CREDIT_CARD⟧ abgelehnt, Rückruf an ⟦PHONE:DE⟧
⟦!ISO_TS⟧ INFO  Version ⟦!VERSION:four⟧ gestartet auf Host ⟦IPV4:priv⟧""")
    add("log_app", "fr", 4, """⟦!ISO_TS⟧ ERREUR paiement refusé pour ⟦EMAIL⟧ (carte ⟦CREDIT_CARD⟧, montant ⟦!PRICE:fr⟧)
⟦!ISO_TS⟧ INFO   nouvelle adresse IP ⟦IPV4⟧ pour le client ⟦!CUSTNO⟧
⟦!ISO_TS⟧ INFO   SMS envoyé au ⟦PHONE:FRm⟧""")
    add("log_app", "es", 4, """⟦!ISO_TS⟧ INFO  alta de cliente ⟦!CUSTNO⟧: correo=⟦EMAIL⟧ tel=⟦PHONE:ES⟧ iban=⟦IBAN:ES⟧
⟦!ISO_TS⟧ WARN  intento de acceso desde ⟦IPV4⟧ (bloqueado), agente ⟦~ua⟧
⟦!ISO_TS⟧ INFO  factura ⟦!INVOICE⟧ generada, total ⟦!PRICE:es⟧""")
    add("log_fw", "en", 5, """⟦!ISO_TS⟧ fw01 DROP IN=eth0 SRC=⟦IPV4⟧ DST=⟦IPV4:priv⟧ PROTO=TCP SPT=⟦~port⟧ DPT=22 SRC_MAC=⟦MAC:colon⟧
⟦!ISO_TS⟧ fw01 ACCEPT IN=eth0 SRC=⟦IPV6⟧ DST=⟦IPV6:comp⟧ PROTO=TCP DPT=443
⟦!ISO_TS⟧ fw01 ACCEPT IN=eth1 SRC=⟦IPV4:priv⟧ DST=⟦IPV4⟧:443 bytes=⟦~bytes⟧""")
    add("log_app", "en", 4, """2024/05/14 09:12:44 [warn] cache rebuild for version ⟦!VERSION:four⟧ (previous version ⟦!VERSION:four⟧), snmp oid ⟦!OID⟧, bogus peer ⟦!BAD_IP⟧ ignored
2024/05/14 09:12:45 [info] timecode ⟦!TIMECODE⟧ reached, shard ⟦!HASH:sha1⟧ epoch ⟦!UNIX_TS:ms⟧""")

    # ------------------------------------------------------------ code
    add("code", "en", 5, '''import boto3

s3 = boto3.client(
    "s3",
    aws_access_key_id="⟦AWS_KEY⟧",
    aws_secret_access_key="⟦AWS_SECRET⟧",
    region_name="eu-central-1",
)
s3.upload_file("report.csv", "acme-reports", "⟦!UUID⟧.csv")''')
    add("code", "en", 5, """import OpenAI from "openai";
import Stripe from "stripe";

const openai = new OpenAI({ apiKey: "⟦OPENAI_API_KEY⟧" });
const stripe = new Stripe('⟦STRIPE_KEY⟧', { apiVersion: "⟦!DATE:iso⟧" });
const BRAND = "⟦!HEX_COLOR⟧";""")
    add("code", "en", 5, """curl https://api.anthropic.com/v1/messages \\
  -H "x-api-key: ⟦ANTHROPIC_API_KEY⟧" \\
  -H "anthropic-version: 2023-06-01" \\
  -H "content-type: application/json" \\
  -d '{"model": "claude-sonnet", "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}]}'""")
    add("code", "en", 4, """package main

import "github.com/google/go-github/v60/github"

func client() *github.Client {
\t// TODO: move to env
\treturn github.NewClient(nil).WithAuthToken("⟦GITHUB_TOKEN⟧")
}""")
    add("code", "en", 4, """Connection conn = DriverManager.getConnection(
    "jdbc:mysql://⟦~host⟧:3306/⟦~db⟧?user=⟦~user⟧&password=⟦PW:url⟧&useSSL=true");
// retry build ⟦!VERSION:four⟧""")
    add("code", "en", 4, """"ConnectionStrings": {
  "Crm": "Server=tcp:⟦~host⟧,1433;Database=⟦~db⟧;User ID=⟦~user⟧;Password=⟦PW:conn⟧;Encrypt=True;TrustServerCertificate=False;"
}""")
    add("code", "en", 4, """import requests

SLACK_WEBHOOK = "https://⟦SLACK_WEBHOOK⟧"
requests.post(SLACK_WEBHOOK, json={"text": f"nightly export done: {n} rows"})""")
    add("code", "en", 4, """# settings.py
DEBUG = False
SECRET_KEY = '⟦SECRET:b62⟧'
ALLOWED_HOSTS = ["app.⟦~domain⟧"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "⟦~db⟧",
        "USER": "⟦~user⟧",
        "PASSWORD": "⟦PW⟧",
        "HOST": "⟦~host⟧",
    }
}""")
    add("code", "en", 4, """FROM python:3.12-slim
ARG BUILD_SHA=⟦!HASH:git⟧
ENV APP_VERSION=⟦!VERSION:semver⟧
ENV API_TOKEN=⟦SECRET⟧
ENV GITLAB_TOKEN=⟦GITLAB_TOKEN⟧
RUN pip install --no-cache-dir -r requirements.txt""")
    add("code", "en", 5, """def checksum(path):
    # expected: ⟦!HASH:sha256⟧
    h = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return h == EXPECTED

DB_PASSWORD = ⟦!PLACEHOLDER:code⟧
API_KEY = ⟦!PLACEHOLDER:code⟧
TRACE = "⟦!UUID:upper⟧"  # md5 of config: ⟦!HASH:md5⟧""")
    add("code", "en", 4, """.btn-primary {
  color: ⟦!HEX_COLOR⟧;
  background: ⟦!HEX_COLOR⟧;
  border: 1px solid ⟦!HEX_COLOR⟧;
  margin: 0 auto;
  transition: all .2s ease-in-out;
}
/* build ⟦!HASH:git7⟧ – version ⟦!VERSION⟧ */""")
    add("code", "en", 4, """INSERT INTO customers (first_name, last_name, email, phone, iban, date_of_birth, created_at)
VALUES ('⟦~first⟧', '⟦~last⟧', '⟦EMAIL:p⟧', '⟦PHONE⟧', '⟦IBAN⟧', '⟦DOB:iso⟧', '⟦!ISO_TS⟧');""")
    add("code", "en", 4, """<?php
define('DB_HOST', '⟦~host⟧');
define('DB_USER', '⟦~user⟧');
define('DB_PASSWORD', '⟦PW⟧');
define('AUTH_KEY', '⟦SECRET:b62⟧');
$mapsKey = "⟦GOOGLE_API_KEY⟧";""")
    add("code", "en", 3, """require "stripe"
Stripe.api_key = "⟦STRIPE_KEY⟧"
Slack::Web::Client.new(token: "⟦SLACK_TOKEN⟧").chat_postMessage(channel: "#ops", text: "deploy ⟦!VERSION:semver⟧")""")
    add("code", "de", 4, """// Konfiguration für den Export-Job (nur lokal!)
const config = {
  dbPasswort: process.env.DB_PASSWORD,
  password: "⟦PW⟧",
  githubToken: "⟦GITHUB_TOKEN⟧",
  webhook: "https://⟦SLACK_WEBHOOK⟧",
  farbe: "⟦!HEX_COLOR⟧",
};""")
    add("code", "fr", 3, """# script de sauvegarde – à ne pas versionner
export AWS_ACCESS_KEY_ID="⟦AWS_KEY⟧"
export AWS_SECRET_ACCESS_KEY="⟦AWS_SECRET⟧"
pg_dump "postgresql://⟦~user⟧:⟦PW:url⟧@⟦~host⟧/⟦~db⟧" | gzip > dump-$(date +%F).sql.gz""")
    add("code", "es", 3, """# cliente de la API de pagos
import os
clave = "⟦STRIPE_KEY⟧"  # TODO: mover a os.environ
token_gitlab = "⟦GITLAB_TOKEN⟧"
headers = {"Authorization": "Bearer ⟦JWT⟧"}""")

    # ------------------------------------------------------------ private keys
    add("pem", "en", 7, """Here's the deploy key for the new build box, please add it to ~/.ssh on the runner:

⟦PEM:openssh⟧

Public part fingerprint: ⟦!SSH_FP⟧""")
    add("pem", "de", 5, """Hier der private Schlüssel für das Zertifikat (läuft am ⟦!DATE:de⟧ ab):
```
⟦PEM⟧
```
Bitte nach dem Import löschen.""")
    add("pem", "en", 5, """$ cat server.key
⟦PEM:rsa⟧
$ openssl x509 -in server.crt -noout -subject""")
    add("pem", "fr", 4, """Voici la clé privée EC du serveur de test :
⟦PEM:ec⟧
Et la clé publique associée :
⟦!PUBKEY:pem⟧""")
    add("pem", "es", 4, """clave privada para firmar los tokens (entorno de pruebas):

⟦PEM:pkcs8⟧""")
    add("pem", "en", 2, """key pasted from a Windows box:
⟦PEM:crlf⟧
(the cert is fine)""")
    add("pem", "en", 4, """authorized_keys on the bastion:
⟦!PUBKEY⟧ deploy@build-01
⟦!PUBKEY⟧ ci@runner-3
and the CA cert:
⟦!CERT⟧""")

    # ------------------------------------------------------------ invoices
    add("invoice", "de", 5, """RECHNUNG Nr. ⟦!INVOICE⟧
Rechnungsdatum: ⟦!DATE:de⟧ · Kundennummer: ⟦!CUSTNO⟧ · Bestellung: ⟦!ORDER⟧

⟦~company⟧, ⟦~street⟧, ⟦~zip⟧ ⟦~city⟧
Tel. ⟦PHONE:DE⟧ · ⟦EMAIL:role⟧

Pos  Artikel                     EAN            Menge  Preis
1    ⟦~product⟧                  ⟦!EAN⟧  1      ⟦!PRICE:de⟧
2    ⟦~product⟧                  ⟦!EAN⟧  2      ⟦!PRICE:de⟧

Gesamtbetrag: ⟦!PRICE:de⟧ (inkl. 19 % MwSt.)
Zahlbar bis ⟦!DATE:de⟧ ohne Abzug auf IBAN ⟦IBAN:DE⟧ (BIC ⟦!BIC⟧).
USt-IdNr. ⟦!VAT_ID⟧""")
    add("invoice", "fr", 5, """FACTURE N° ⟦!INVOICE⟧ du ⟦!DATE:fr⟧
⟦~company⟧ – ⟦~street⟧, ⟦~zip⟧ ⟦~city⟧ – SIRET ⟦!SIRET⟧ – TVA ⟦!VAT_ID⟧
Tél. ⟦PHONE:FR⟧

Désignation          Réf.            Qté   Montant
⟦~product⟧           ⟦!SKU⟧          1     ⟦!PRICE:fr⟧
⟦~product⟧           ⟦!SKU⟧          3     ⟦!PRICE:fr⟧

Total TTC : ⟦!PRICE:fr⟧ – échéance ⟦!DATE:fr⟧
Règlement par virement : IBAN ⟦IBAN:FR⟧ – BIC ⟦!BIC⟧""")
    add("invoice", "es", 5, """FACTURA ⟦!INVOICE⟧ · Fecha: ⟦!DATE:es⟧
Emisor: ⟦~company⟧ (CIF ⟦!VAT_ID⟧), ⟦~street⟧, ⟦~zip⟧ ⟦~city⟧ · Tel. ⟦PHONE:ES⟧
Cliente: ⟦~first⟧ ⟦~last⟧ · ⟦EMAIL:p⟧

Concepto            Unidades   Importe
⟦~product⟧          2          ⟦!PRICE:es⟧
Envío (⟦!UPS⟧)      1          ⟦!PRICE:es⟧

Total: ⟦!PRICE:es⟧ · Vencimiento: ⟦!DATE:es⟧
Transferencia a ⟦IBAN:ES⟧""")
    add("invoice", "en", 5, """INVOICE ⟦!INVOICE⟧
Date: ⟦!DATE:en⟧   PO: ⟦!ORDER⟧
Bill to: ⟦~first⟧ ⟦~last⟧, ⟦~street⟧, ⟦~city⟧ ⟦!ZIP4⟧
Phone: ⟦PHONE:US⟧

| Item | SKU | Qty | Amount |
|------|-----|-----|--------|
| ⟦~product⟧ | ⟦!SKU⟧ | 1 | ⟦!PRICE:en⟧ |
| Support plan | ⟦!SKU⟧ | 12 | ⟦!PRICE:en⟧ |

Paid with card ending 4242 on ⟦!DATE:en⟧. Balance due: ⟦!PRICE:en⟧.
Wire transfers: IBAN ⟦IBAN⟧, reference ⟦!INVOICE⟧.""")
    add("invoice", "en", 3, """Receipt ⟦!INVOICE⟧ – ⟦~company⟧
Card: ⟦CREDIT_CARD⟧ (authorised ⟦!ISO_TS⟧)
Amount: ⟦!PRICE:en⟧
Loyalty no.: ⟦!LUHN_BAD⟧
Questions: ⟦EMAIL:role⟧ / ⟦PHONE:UK⟧""")

    # ------------------------------------------------------------ HR notes
    add("hr", "en", 5, """HR onboarding – ⟦~first⟧ ⟦~last⟧
- DOB: ⟦DOB:en⟧
- SSN: ⟦SSN⟧
- Start date: ⟦!DATE:en⟧
- Personal email: ⟦EMAIL:p⟧
- Cell: ⟦PHONE:US⟧
- Direct deposit: see payroll form ⟦!CUSTNO⟧ (uploaded ⟦!DATE:iso⟧)""")
    add("hr", "en", 5, """Employee record (UK)
Name: ⟦~first⟧ ⟦~last⟧
Date of birth: ⟦DOB:uk⟧
NI number: ⟦NINO⟧
Contract start: ⟦!DATE:uk⟧
Emergency contact: ⟦~first.b⟧ ⟦~last⟧, ⟦PHONE:UK⟧
Bank: ⟦IBAN:GB⟧""")
    add("hr", "de", 5, """Personalakte – vertraulich
Mitarbeiter/in: ⟦~first⟧ ⟦~last⟧, geboren am ⟦DOB:de⟧ in ⟦~city⟧
Eintritt: ⟦!DATE:de⟧, Probezeit bis ⟦!DATE:de⟧
Anschrift: ⟦~street⟧, ⟦~zip⟧ ⟦~city⟧
Telefon privat: ⟦PHONE:DEm⟧ · E-Mail: ⟦EMAIL:p⟧
Gehaltskonto: ⟦IBAN:DE⟧""")
    add("hr", "fr", 5, """Fiche salarié
⟦~first⟧ ⟦~last⟧, né(e) le ⟦DOB:fr⟧ à ⟦~city⟧
Date d'embauche : ⟦!DATE:fr⟧ – visite médicale le ⟦!DATE:fr⟧
Téléphone : ⟦PHONE:FRm⟧ – courriel : ⟦EMAIL:p⟧
IBAN pour la paie : ⟦IBAN:FR⟧""")
    add("hr", "es", 5, """Ficha de empleado
Nombre: ⟦~first⟧ ⟦~last⟧
Fecha de nacimiento: ⟦DOB:es⟧
Fecha de alta: ⟦!DATE:es⟧
Móvil: ⟦PHONE:ESm⟧ · Correo: ⟦EMAIL:p⟧
Cuenta nómina: ⟦IBAN:ES⟧""")
    add("hr", "en", 4, """Reference check notes: candidate ⟦~first⟧ ⟦~last⟧ (born ⟦DOB:en⟧) worked with us from ⟦!DATE:en⟧ to ⟦!DATE:en⟧. Reachable at ⟦PHONE⟧. D.O.B. confirmed against passport.""")
    add("hr", "de", 3, """Hallo zusammen, kurze Info: ⟦~first⟧ ⟦~last⟧ (geb. ⟦DOB:de⟧) startet am ⟦!DATE:de⟧ im Team. Bitte Laptop vorbereiten, Handy: ⟦PHONE:DEm⟧.""")
    add("hr", "es", 3, """Nota: ⟦~first⟧ ⟦~last⟧, nacida el ⟦DOB:es⟧, se incorpora el ⟦!DATE:es⟧. Teléfono de contacto ⟦PHONE:ES⟧.""")
    add("hr", "fr", 3, """Pour le dossier mutuelle : ⟦~first⟧ ⟦~last⟧, date de naissance : ⟦DOB:fr⟧, adhésion au ⟦!DATE:fr⟧, n° adhérent ⟦!CUSTNO⟧.""")
    # ------------------------------------------------------------ CRM exports
    def crm_csv(lang, sep, header, country):
        def f():
            rows = [header]
            for i in range(R.randint(3, 6)):
                t = "r%d" % i
                rows.append(sep.join(["⟦!CUSTNO⟧", "⟦~first.%s⟧" % t, "⟦~last.%s⟧" % t, "⟦EMAIL:p.%s⟧" % t,
                                      "⟦PHONE:%s⟧" % R.choice(country), "⟦!DATE:iso⟧"]))
            return "\n".join(rows)
        return f
    add("crm", "en", 5, crm_csv("en", ",", "customer_id,first_name,last_name,email,phone,created_at", ["USi", "UK", "US", "NL", "IT", "IE"]))
    add("crm", "de", 4, crm_csv("de", ";", "Kundennr;Vorname;Nachname;E-Mail;Telefon;Angelegt", ["DE", "DEm", "AT", "CH"]))
    add("crm", "fr", 4, crm_csv("fr", ";", "id_client;prénom;nom;email;téléphone;date_création", ["FR", "FRm", "BE"]))
    add("crm", "es", 4, crm_csv("es", ";", "id_cliente;nombre;apellido;correo;teléfono;fecha_alta", ["ES", "ESm", "MX", "PT"]))

    def crm_md():
        rows = ["| Name | Email | Phone | Country |", "|---|---|---|---|"]
        for i in range(R.randint(3, 5)):
            c = R.choice(["US", "UK", "DE", "FR", "ES", "IT", "NL", "BE", "AT", "CH", "IE", "PL", "SE", "AU", "PT"])
            rows.append("| ⟦~first.r%d⟧ ⟦~last.r%d⟧ | ⟦EMAIL:p.r%d⟧ | ⟦PHONE:%s⟧ | %s |" % (i, i, i, c, c))
        return "Here is the contact list from the CRM, can you dedupe it?\n\n" + "\n".join(rows)
    add("crm", "en", 6, crm_md)

    def crm_jsonl():
        rows = []
        for i in range(R.randint(2, 4)):
            rows.append('{"id":"⟦!UUID⟧","email":"⟦EMAIL:p.r%d⟧","phone":"⟦PHONE:%s⟧","dob":"⟦DOB:iso⟧","card":"⟦CREDIT_CARD:compact⟧","last_ip":"⟦IPV4⟧"}'
                        % (i, R.choice(["USi", "UKi", "DEi", "FRi", "ESi"])))
        return "\n".join(rows)
    add("crm", "en", 5, crm_jsonl)

    def crm_de_dob():
        rows = ["Name;Geburtsdatum;Telefon;IBAN"]
        for i in range(R.randint(2, 4)):
            rows.append("⟦~first.r%d⟧ ⟦~last.r%d⟧;⟦DOB:de⟧;⟦PHONE:DE⟧;⟦IBAN:DE⟧" % (i, i))
        return "Export Mitgliederliste Sportverein (Stand ⟦!DATE:de⟧)\n" + "\n".join(rows)
    add("crm", "de", 3, crm_de_dob)

    # ------------------------------------------------------------ short prose (each variant tagged with its language)
    def prose(variants, fill_args=None):
        def f():
            lang, t = R.choice(variants)
            if fill_args:
                t = t % fill_args()
            return t, lang
        return f

    def card_args():
        brand = R.choice(["visa", "visa", "mc", "mc2", "amex", "disc"])
        name = {"visa": "Visa", "mc": "Mastercard", "mc2": "Mastercard", "amex": "Amex", "disc": "Discover"}[brand]
        return {"n": name, "b": brand}
    add("chat", "*", 35, prose([
        ("en", "Please charge my %(n)s ⟦CREDIT_CARD:%(b)s⟧, I'll give you the CVV over the phone."),
        ("en", "Card on file: %(n)s ⟦CREDIT_CARD:%(b)s⟧ – expires 11/28."),
        ("en", "test txn failed for pan=⟦CREDIT_CARD:compact⟧ (%(n)s), retrying with ⟦CREDIT_CARD:%(b)s⟧"),
        ("en", "cc: ⟦CREDIT_CARD:%(b)s⟧\nexp: 04/29\nname: ⟦~first⟧ ⟦~last⟧"),
        ("en", "The %(n)s ending in 1234 was replaced by ⟦CREDIT_CARD:%(b)s⟧; membership no. ⟦!LUHN_BAD⟧ is unchanged."),
        ("de", "Bitte buchen Sie von meiner %(n)s ab: ⟦CREDIT_CARD:%(b)s⟧."),
        ("de", "Kartennummer: ⟦CREDIT_CARD:%(b)s⟧ (gültig bis 03/27), Vertragsnummer ⟦!LUHN_BAD⟧"),
        ("fr", "Carte %(n)s n° ⟦CREDIT_CARD:%(b)s⟧, merci de débiter l'acompte."),
        ("fr", "Numéro de carte : ⟦CREDIT_CARD:%(b)s⟧ – référence contrat ⟦!LUHN_BAD⟧"),
        ("es", "Número de tarjeta (%(n)s): ⟦CREDIT_CARD:%(b)s⟧"),
        ("es", "Pague con la tarjeta ⟦CREDIT_CARD:%(b)s⟧, caduca en 08/26."),
    ], card_args))

    def iban_args():
        return {"c": R.choice(sorted(IBAN_FMT))}
    add("chat", "*", 20, prose([
        ("en", "Please wire the deposit to IBAN ⟦IBAN:%(c)s⟧ (beneficiary ⟦~company⟧)."),
        ("en", "Our new account: ⟦IBAN:%(c)s⟧. The old one (⟦!BAD_IBAN:%(c)s⟧) was mistyped on the last invoice."),
        ("en", "IBAN:⟦IBAN:%(c)s⟧"),
        ("en", "beneficiary_iban=⟦IBAN:%(c)s⟧&amount=1200"),
        ("de", "Kontoverbindung: IBAN ⟦IBAN:%(c)s⟧ – Verwendungszweck ⟦!INVOICE⟧"),
        ("de", "Neue Bankverbindung ab ⟦!DATE:de⟧: ⟦IBAN:%(c)s⟧"),
        ("fr", "Coordonnées bancaires : ⟦IBAN:%(c)s⟧"),
        ("fr", "Merci de virer le solde sur le compte ⟦IBAN:%(c)s⟧ avant le ⟦!DATE:fr⟧."),
        ("es", "Hagan la transferencia a la cuenta ⟦IBAN:%(c)s⟧, concepto ⟦!INVOICE⟧."),
        ("es", "IBAN (nuevo): ⟦IBAN:%(c)s⟧ – el anterior ⟦!BAD_IBAN:%(c)s⟧ ya no es válido."),
    ], iban_args))

    add("chat", "*", 55, prose([
        ("en", "Rotate this one asap, it leaked in a screenshot: ⟦GITHUB_TOKEN⟧"),
        ("en", "Token for the CI bot → ⟦GITHUB_TOKEN:pat⟧"),
        ("en", "gh auth login --with-token <<< ⟦GITHUB_TOKEN:ghp⟧"),
        ("en", "The app installation token (⟦GITHUB_TOKEN:ghs⟧) only lives an hour, right?"),
        ("en", "oauth token from the device flow: ⟦GITHUB_TOKEN:gho⟧"),
        ("en", "our gitlab runner token is ⟦GITLAB_TOKEN⟧ (project ⟦~db⟧)"),
        ("en", "git push fails with PRIVATE-TOKEN: ⟦GITLAB_TOKEN:glpat-⟧, scope api"),
        ("en", "Slack app token: ⟦SLACK_TOKEN:xoxb⟧ / user token ⟦SLACK_TOKEN:xoxp⟧"),
        ("en", "Google key \"⟦GOOGLE_API_KEY⟧\" is restricted to the Maps JS API."),
        ("en", "Anthropic key (prod): ⟦ANTHROPIC_API_KEY⟧"),
        ("en", "client = anthropic.Anthropic(api_key=\"⟦ANTHROPIC_API_KEY⟧\")"),
        ("en", "OpenAI: ⟦OPENAI_API_KEY⟧, org is set in the dashboard"),
        ("en", "Stripe restricted key for the reporting job: ⟦STRIPE_KEY:rk_live_⟧"),
        ("en", "AWS creds → key id ⟦AWS_KEY⟧, aws_secret_access_key ⟦AWS_SECRET⟧"),
        ("en", "Can you check why `Authorization: Bearer ⟦JWT⟧` gets a 403 on /admin?"),
        ("en", "session cookie: session=⟦JWT⟧; Path=/; HttpOnly"),
        ("en", "id_token=⟦JWT⟧&state=⟦!HASH:md5⟧"),
        ("de", "Webhook für Alerts: https://⟦SLACK_WEBHOOK⟧"),
        ("de", "Der Bot-Token ⟦SLACK_TOKEN⟧ ist im Channel gelandet, bitte widerrufen."),
        ("de", "Hier mein JWT zum Debuggen: ⟦JWT⟧ (läuft um 17 Uhr ab)"),
        ("de", "Anthropic-Schlüssel fürs Testsystem: ⟦ANTHROPIC_API_KEY⟧"),
        ("fr", "Le jeton GitHub (⟦GITHUB_TOKEN⟧) expire le ⟦!DATE:fr⟧."),
        ("fr", "Jeton GitLab du déploiement : ⟦GITLAB_TOKEN⟧"),
        ("fr", "Voici le token Slack : ⟦SLACK_TOKEN⟧ – à révoquer après la démo."),
        ("es", "La clave de OpenAI es ⟦OPENAI_API_KEY⟧, no la compartas."),
        ("es", "Token de GitHub para el pipeline: ⟦GITHUB_TOKEN:ghp⟧"),
        ("es", "El JWT que devuelve el login: ⟦JWT⟧"),
    ]))

    add("chat", "*", 18, prose([
        ("en", "The customer's router (⟦IPV4⟧) keeps reconnecting; its WAN MAC is ⟦MAC⟧."),
        ("en", "ssh admin@⟦IPV4⟧ -p 2222   # jump host"),
        ("en", "ping ⟦IPV6:full⟧ → 100% loss; ping ⟦IPV4⟧ → ok"),
        ("en", "switch port Gi1/0/12 learned ⟦MAC:cisco⟧ on vlan 20"),
        ("en", "Our office is at ⟦!COORDS⟧, the NAS sits at ⟦IPV4:priv⟧."),
        ("en", "Windows ⟦!VERSION:win⟧ on ⟦IPV4:priv⟧ fails to update; agent version ⟦!VERSION:four⟧."),
        ("en", "the config says ⟦!BAD_IP⟧, which isn't even a valid address – should be ⟦IPV4:priv⟧"),
        ("de", "Bitte die IP ⟦IPV4⟧ und das Netz ⟦IPV6⟧ auf die Allowlist setzen."),
        ("de", "Gerät ⟦MAC:dash⟧ bekommt keine Adresse, statisch wäre ⟦IPV4:priv⟧."),
        ("fr", "L'adresse IPv6 ⟦IPV6⟧ ne répond plus depuis la version ⟦!VERSION:semver⟧."),
        ("fr", "La borne Wi-Fi (⟦MAC:lower⟧) a l'adresse ⟦IPV4:priv⟧."),
        ("es", "El equipo con MAC ⟦MAC:dash⟧ tiene la IP ⟦IPV4:priv⟧."),
        ("es", "Bloquead la IP ⟦IPV4⟧ y la ⟦IPV6⟧, vienen ataques desde ahí."),
    ]))

    add("chat", "*", 45, prose([
        ("en", "My social security number is ⟦SSN⟧, date of birth ⟦DOB:en⟧."),
        ("en", "SSN ⟦SSN:space⟧ – please update the W-2."),
        ("en", "Employee SSN: ⟦SSN⟧ (verified ⟦!DATE:en⟧)"),
        ("en", "ssn=⟦SSN⟧&dob=⟦DOB:iso⟧"),
        ("en", "He was born on ⟦DOB:en⟧ in ⟦~city⟧, ssn ⟦SSN⟧."),
        ("en", "W-9 on file: ⟦~first⟧ ⟦~last⟧, Social Security No. ⟦SSN⟧"),
        ("en", "NI No: ⟦NINO⟧; DOB: ⟦DOB:uk⟧"),
        ("en", "National insurance number ⟦NINO:space⟧ for the payroll update."),
        ("en", "My NINO is ⟦NINO⟧ – HMRC letter ref ⟦!CUSTNO⟧."),
        ("en", "P45 details: NI number ⟦NINO⟧, leaving date ⟦!DATE:uk⟧."),
        ("en", "Patient DOB: ⟦DOB:en⟧ – appointment on ⟦!DATE:en⟧."),
        ("en", "Part no. ⟦!BAD_SSN⟧ is back-ordered; ZIP ⟦!ZIP4⟧."),
        ("de", "Geburtsdatum: ⟦DOB:de⟧, Termin am ⟦!DATE:de⟧ um 10:30."),
        ("de", "Herr ⟦~last⟧ (geb. am ⟦DOB:de⟧) hat am ⟦!DATE:de⟧ gekündigt."),
        ("fr", "Date de naissance : ⟦DOB:fr⟧ – rendez-vous le ⟦!DATE:fr⟧."),
        ("fr", "⟦~first⟧ est née le ⟦DOB:fr⟧, inscription le ⟦!DATE:fr⟧."),
        ("es", "Fecha de nacimiento: ⟦DOB:es⟧. Cita: ⟦!DATE:es⟧."),
        ("es", "El paciente nació el ⟦DOB:es⟧; próxima revisión el ⟦!DATE:es⟧."),
    ]))

    def phone_args():
        return {"c": R.choice(["US", "UK", "UKm", "DE", "DEm", "FR", "FRm", "ES", "ESm", "IT", "NL", "CH", "AT", "BE",
                               "PL", "IE", "PT", "AU", "MX", "BR", "SE", "JP", "CA", "IN"])}
    add("chat", "*", 25, prose([
        ("en", "Call me: ⟦PHONE:%(c)s⟧."),
        ("en", "tel: ⟦PHONE:%(c)s⟧ (after 6pm)"),
        ("en", "**Phone:** ⟦PHONE:%(c)s⟧"),
        ("en", "⟦PHONE:%(c)s⟧ is my WhatsApp"),
        ("en", "\"phone\": \"⟦PHONE:%(c)s⟧\""),
        ("en", "Contact: ⟦~first⟧ / ⟦PHONE:%(c)s⟧ / ⟦EMAIL⟧"),
        ("de", "Rückruf bitte unter ⟦PHONE:%(c)s⟧!"),
        ("de", "Tel.: ⟦PHONE:%(c)s⟧, erreichbar Mo–Fr"),
        ("fr", "Appelez le ⟦PHONE:%(c)s⟧, merci."),
        ("fr", "Mon numéro : ⟦PHONE:%(c)s⟧"),
        ("es", "Llámame al ⟦PHONE:%(c)s⟧"),
        ("es", "Teléfono de contacto: ⟦PHONE:%(c)s⟧."),
    ], phone_args))

    add("chat", "*", 30, prose([
        ("en", "Tracking numbers: UPS ⟦!UPS⟧, DHL ⟦!DHL⟧, FedEx ⟦!FEDEX⟧."),
        ("en", "ISBN ⟦!ISBN⟧ and ⟦!ISBN⟧ are both out of stock; EAN ⟦!EAN⟧ restocks on ⟦!DATE:iso⟧."),
        ("en", "Order ⟦!ORDER⟧ / invoice ⟦!INVOICE⟧ / customer ⟦!CUSTNO⟧ – amount ⟦!PRICE⟧."),
        ("en", "Commit ⟦!HASH:git⟧ fixes the regression from ⟦!HASH:git7⟧ (md5 ⟦!HASH:md5⟧)."),
        ("en", "Container ⟦!DIGEST⟧ built at ⟦!UNIX_TS⟧ from ⟦!VERSION:deb⟧."),
        ("en", "The reference ⟦!LUHN_BAD⟧ on the contract is not a card number."),
        ("en", "Population grew to ⟦!QUANTITY⟧ by ⟦!DATE:iso⟧."),
        ("en", "Use ⟦!HEX_COLOR⟧ for the header, see ⟦!UUID⟧."),
        ("en", "Request ⟦!UUID⟧ took 231 ms (epoch ⟦!UNIX_TS:ms⟧)."),
        ("en", "Your coupon code is ⟦!SKU⟧, valid until ⟦!DATE:en⟧."),
        ("en", "Set the API key in .env (API_KEY=⟦!PLACEHOLDER:key⟧) and the password to ⟦!PLACEHOLDER:pw⟧ locally."),
        ("en", "firmware v⟦!VERSION:four⟧ / bootloader v⟦!VERSION:four⟧ / OID ⟦!OID⟧"),
        ("en", "IBAN ⟦!BAD_IBAN⟧ was rejected by the bank (checksum)."),
        ("en", "AMI ⟦!AWS_ID⟧ in ⟦!ARN⟧"),
        ("en", "Build ⟦!VERSION:win⟧ ships with driver version ⟦!VERSION:four⟧; host ⟦!BAD_IP⟧ is a typo."),
        ("de", "Bestellnummer ⟦!ORDER⟧, Rechnungsnummer ⟦!INVOICE⟧, Betrag ⟦!PRICE:de⟧."),
        ("de", "Sendung ⟦!DHL⟧ – Zustellung am ⟦!DATE:de⟧ zwischen 10:00 und 14:00."),
        ("de", "Auflage ⟦!QUANTITY⟧ Stück, ISBN ⟦!ISBN⟧, erschienen am ⟦!DATE:de⟧."),
        ("fr", "Référence dossier ⟦!CUSTNO⟧, facture ⟦!INVOICE⟧ du ⟦!DATE:fr⟧, montant ⟦!PRICE:fr⟧."),
        ("fr", "Colis ⟦!UPS⟧ livré le ⟦!DATE:fr⟧ ; SIRET du vendeur ⟦!SIRET⟧."),
        ("es", "Referencia ⟦!ORDER⟧, envío ⟦!UPS⟧, importe ⟦!PRICE:es⟧."),
        ("es", "Versión ⟦!VERSION:four⟧ publicada el ⟦!DATE:es⟧ (commit ⟦!HASH:git7⟧)."),
    ]))


    # ------------------------------------------------------------ more structured identity / secrets
    def benefits():
        rows = ["Benefits enrollment – ⟦~first⟧ ⟦~last⟧ (employee ID ⟦!CUSTNO⟧)",
                "Employee SSN: ⟦SSN⟧   DOB: ⟦DOB:en⟧", "Dependents:"]
        for i in range(R.randint(1, 3)):
            rows.append("  - ⟦~first.d%d⟧ ⟦~last⟧, relationship: %s, SSN ⟦SSN⟧, date of birth ⟦DOB:en⟧"
                        % (i, R.choice(["spouse", "child", "child"])))
        rows.append("Coverage effective ⟦!DATE:en⟧. Plan code ⟦!SKU⟧.")
        return "\n".join(rows)
    add("hr", "en", 9, benefits)

    def uk_payroll():
        rows = ["employee_no,surname,forename,ni_number,date_of_birth,tax_code"]
        for i in range(R.randint(3, 5)):
            rows.append("⟦!CUSTNO⟧,⟦~last.r%d⟧,⟦~first.r%d⟧,⟦NINO:compact⟧,⟦DOB:iso⟧,1257L" % (i, i))
        return "Payroll import for ⟦!DATE:uk⟧ – please check the NI numbers:\n" + "\n".join(rows)
    add("hr", "en", 7, uk_payroll)

    add("ticket", "en", 6, """Tax prep intake
Taxpayer: ⟦~first⟧ ⟦~last⟧ – SSN ⟦SSN⟧ – born ⟦DOB:en⟧
Spouse: ⟦~first.s⟧ ⟦~last⟧ – SSN ⟦SSN:dash⟧
Refund to account ending 0042, routing on file. Prior-year AGI ⟦!PRICE:en⟧. Filed ⟦!DATE:en⟧.""")
    add("yaml", "en", 5, """# ~/.config/gh/hosts.yml
github.com:
    user: ⟦~user⟧
    oauth_token: ⟦GITHUB_TOKEN:gho⟧
    git_protocol: https
github.acme-corp.com:
    user: ⟦~user⟧
    oauth_token: ⟦GITHUB_TOKEN:ghp⟧
""")
    add("yaml", "en", 5, """slack:
  bot_token: ⟦SLACK_TOKEN:xoxb⟧
  user_token: "⟦SLACK_TOKEN:xoxp⟧"
  signing_secret: ⟦SECRET:hex⟧
  alerts_webhook: https://⟦SLACK_WEBHOOK⟧
  channel: "#alerts-prod"
""")
    add("json", "en", 6, """{
  "providers": {
    "openai": {"api_key": "⟦OPENAI_API_KEY⟧", "base_url": "https://api.openai.com/v1"},
    "anthropic": {"api_key": "⟦ANTHROPIC_API_KEY⟧"},
    "google": {"api_key": "⟦GOOGLE_API_KEY⟧", "model": "gemini-pro"}
  },
  "request_timeout_ms": 30000,
  "cache_key_salt_version": "⟦!VERSION:semver⟧"
}""")
    add("log_app", "en", 5, """⟦IPV4⟧ - - [⟦!LOGTIME⟧] "GET /api/v1/me HTTP/1.1" 200 712 "-" "⟦~ua⟧" auth="Bearer ⟦JWT⟧"
⟦IPV4⟧ - - [⟦!LOGTIME⟧] "POST /api/v1/token/refresh HTTP/1.1" 401 88 "-" "⟦~ua⟧" refresh_token=⟦JWT⟧""")
    add("ticket", "de", 4, """Hallo, im Ticket-Anhang (Screenshot) war leider unser Slack-Bot-Token zu sehen: ⟦SLACK_TOKEN⟧ – und im Log der Webhook https://⟦SLACK_WEBHOOK⟧. Bitte beides sperren. Ticket ⟦!CUSTNO⟧, gemeldet am ⟦!DATE:de⟧.""")
    add("ticket", "es", 4, """Incidencia ⟦!CUSTNO⟧: en el repositorio público apareció la clave ⟦GOOGLE_API_KEY⟧ y el token ⟦GITLAB_TOKEN⟧. Detectado el ⟦!DATE:es⟧ por ⟦~first⟧ ⟦~last⟧ (⟦EMAIL:work⟧).""")
    add("ticket", "fr", 4, """Incident ⟦!CUSTNO⟧ : la clé Anthropic ⟦ANTHROPIC_API_KEY⟧ a été publiée dans un ticket Jira le ⟦!DATE:fr⟧. Merci de la révoquer. Contact : ⟦PHONE:FR⟧.""")


    # ------------------------------------------------------------ look-alikes that must stay untouched
    add("chat", "*", 30, prose([
        ("en", "Bank says IBAN ⟦!BAD_IBAN⟧ fails validation and so does ⟦!BAD_IBAN⟧ – please resend."),
        ("en", "Interfaces: ⟦!BAD_IP⟧ and ⟦!BAD_IP⟧ are rejected by the parser (octet out of range)."),
        ("en", "Serials ⟦!LUHN_BAD⟧, ⟦!LUHN_BAD⟧ and ⟦!LUHN_BAD⟧ belong to the returned units."),
        ("en", "Form IDs ⟦!BAD_SSN⟧ / ⟦!BAD_SSN⟧ are internal codes."),
        ("en", "Print run: ⟦!QUANTITY⟧ copies of ISBN ⟦!ISBN⟧; timestamp ⟦!UNIX_TS⟧."),
        ("en", "Agent version ⟦!VERSION:four⟧ on kernel ⟦!VERSION:deb⟧, Chrome ⟦!VERSION:chrome⟧."),
        ("de", "Die IBAN ⟦!BAD_IBAN⟧ ist laut Bank ungültig (Prüfziffer falsch)."),
        ("de", "Gerätenummern ⟦!LUHN_BAD⟧ und ⟦!LUHN_BAD⟧ wurden getauscht."),
        ("de", "Auflage ⟦!QUANTITY⟧, ISBN ⟦!ISBN⟧."),
        ("fr", "L'IBAN ⟦!BAD_IBAN⟧ est refusé (clé de contrôle invalide)."),
        ("fr", "Numéros de série : ⟦!LUHN_BAD⟧, ⟦!LUHN_BAD⟧."),
        ("es", "El IBAN ⟦!BAD_IBAN⟧ no es válido, revisa los dígitos de control."),
        ("es", "La dirección ⟦!BAD_IP⟧ no existe; la versión es ⟦!VERSION:four⟧."),
    ]))

    # ------------------------------------------------------------ markdown / docs
    add("markdown", "en", 4, """## Quick start

1. Install: `pip install acme-sdk==⟦!VERSION:semver⟧`
2. Verify the download: `sha256sum acme.tar.gz` should print `⟦!HASH:sha256⟧`
3. Configure:

```bash
export ACME_API_KEY=⟦!PLACEHOLDER:key⟧
export ACME_DB_PASSWORD=⟦!PLACEHOLDER:env⟧
```

> **Note:** never commit real keys. Example request id: `⟦!UUID⟧`.""")
    add("markdown", "en", 4, """### Incident ⟦!INVOICE⟧ – postmortem

* **What happened:** a debug log printed the full DSN `postgres://⟦~user⟧:⟦PW:url⟧@⟦~host⟧:5432/⟦~db⟧` and the key `⟦AWS_KEY⟧`.
* **Detected:** ⟦!ISO_TS⟧ by the secret scanner.
* **Affected host:** ⟦IPV4:priv⟧ (⟦MAC⟧)
* **Owner:** ⟦~first⟧ ⟦~last⟧ <⟦EMAIL:work⟧>
* **Fix:** ⟦!HASH:git7⟧""")
    add("markdown", "de", 3, """# Übergabe Rufbereitschaft

| Rolle | Name | Telefon |
|------|------|---------|
| Primär | ⟦~first⟧ ⟦~last⟧ | ⟦PHONE:DEm⟧ |
| Sekundär | ⟦~first.b⟧ ⟦~last.b⟧ | ⟦PHONE:DE⟧ |

Zugang zum Monitoring: Benutzer `oncall`, Passwort siehe Vault (**nicht** hier eintragen: `⟦!PLACEHOLDER:pw⟧`).
Letzte Änderung: ⟦!DATE:de⟧, Version ⟦!VERSION:semver⟧.""")
    add("markdown", "fr", 3, """## Procédure de restauration

- Serveur : `⟦IPV4⟧`
- Compte de service : `⟦EMAIL:role⟧`
- Chaîne de connexion : `mysql://⟦~user⟧:⟦PW:url⟧@⟦~host⟧:3306/⟦~db⟧`
- Dernier test : ⟦!DATE:fr⟧ (⟦!HASH:git7⟧)""")
    add("markdown", "es", 3, """## Guía rápida

1. Clona el repo (commit `⟦!HASH:git⟧`).
2. Copia `.env.example` a `.env` y pon tu clave: `OPENAI_API_KEY=⟦!PLACEHOLDER:key⟧`.
3. Para producción la clave real es `⟦OPENAI_API_KEY⟧` (¡bórrala de aquí!).
4. Contacto: ⟦~first⟧ ⟦~last⟧, ⟦PHONE:ES⟧.""")


# TEMPLATES-END


# --------------------------------------------------------------- self checks
RX_EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
RX_IP4 = re.compile(rb"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
RX_DIGRUN = re.compile(rb"(?<![\d])\d(?:[ -]?\d){12,18}(?!\d)")
RX_SECRET = re.compile(rb"AKIA[A-Z2-7]{16}|gh[pousr]_[A-Za-z0-9]{36}|sk-ant-|T3BlbkFJ|xox[bp]-|AIza[\w-]{35}|glpat-|"
                       rb"sk_live_|PRIVATE KEY-----|eyJ[\w-]{10,}\.eyJ")


def covered(spans, s, e):
    return any(a <= s and e <= b for a, b in spans)


def overlaps(spans, s, e):
    return any(a < e and s < b for a, b in spans)


def self_check(item):
    """warn about lookalikes that were not generated through a marker"""
    b = item["text"].encode()
    ent = [(x["start"], x["end"]) for x in item["entities"]]
    lab = ent + [(x["start"], x["end"]) for x in item["negatives"]]
    warns = []
    for m in RX_EMAIL.finditer(b):
        if not overlaps(lab, m.start(), m.end()):
            warns.append("unlabeled email %r" % m.group())
    for m in RX_IP4.finditer(b):
        if all(int(g) <= 255 for g in m.groups()) and not overlaps(lab, m.start(), m.end()):
            warns.append("unlabeled ipv4 %r" % m.group())
    for m in RX_DIGRUN.finditer(b):
        d = re.sub(rb"\D", b"", m.group()).decode()
        if 13 <= len(d) <= 19 and luhn_ok(d) and d[0] in "23456" and not overlaps(lab, m.start(), m.end()):
            warns.append("unlabeled luhn-valid run %r" % m.group())
    for m in RX_SECRET.finditer(b):
        if not overlaps(lab, m.start(), m.end()):
            warns.append("unlabeled secret-like %r" % m.group())
    for x in item["entities"]:
        for y in item["entities"] + item["negatives"]:
            if x is not y and x["start"] < y["end"] and y["start"] < x["end"]:
                warns.append("overlapping labels %r %r" % (x, y))
    # validate checksum-bearing values
    for x in item["entities"]:
        v = b[x["start"]:x["end"]].decode()
        t = x["type"]
        if t == "CREDIT_CARD":
            assert luhn_ok(re.sub(r"\D", "", v)), v
        elif t == "IBAN":
            assert iban_ok(v), v
        elif t == "GITHUB_TOKEN" and not v.startswith("github_pat_"):
            assert b62(binascii.crc32(v[4:-6].encode()), 6) == v[-6:], v
        elif t in ("IPV4", "IPV6"):
            ipaddress.ip_address(v)
        if v != v.strip():
            warns.append("entity with surrounding whitespace %r" % v)
    return warns


def build():
    register(add)
    items = []
    n = 0
    for kind, lang, count, tpl in T:
        for _ in range(count):
            src, lg = (tpl() if callable(tpl) else tpl), lang
            if isinstance(src, tuple):
                src, lg = src
            text, ents, negs = render(src, lg)
            n += 1
            items.append({"id": "ho-%04d" % n, "lang": lg, "kind": kind, "text": text,
                          "entities": ents, "negatives": negs})
    return items


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "holdout.jsonl"))
    ap.add_argument("--stats", action="store_true", help="print counts per type / lang / kind")
    a = ap.parse_args()
    items = build()
    warns = 0
    for it in items:
        for w in self_check(it):
            warns += 1
            print("%s: %s" % (it["id"], w), file=sys.stderr)
    with open(a.out, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    if a.stats or warns:
        from collections import Counter
        ct, cl, ck, cn = Counter(), Counter(), Counter(), Counter()
        words = 0
        for it in items:
            cl[it["lang"]] += 1
            ck[it["kind"]] += 1
            for e in it["entities"]:
                ct[e["type"]] += 1
            for e in it["negatives"]:
                cn[e["kind"]] += 1
            b = it["text"].encode()
            sp = [(e["start"], e["end"]) for e in it["entities"]]
            words += sum(1 for m in re.finditer(rb"\S+", b) if not overlaps(sp, m.start(), m.end()))
        withneg = sum(1 for it in items if it["negatives"])
        print("items %d, entities %d, negatives %d (items with negatives %d = %.0f%%), plain words %d"
              % (len(items), sum(ct.values()), sum(cn.values()), withneg, 100.0 * withneg / len(items), words))
        print("types:", dict(sorted(ct.items())))
        print("langs:", dict(sorted(cl.items())))
        print("kinds:", dict(sorted(ck.items())))
        print("negatives:", dict(sorted(cn.items())))
    print("wrote %s (%d items, %d warnings)" % (a.out, len(items), warns), file=sys.stderr)


if __name__ == "__main__":
    main()
