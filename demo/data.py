"""The vocabulary of the demo books: providers and their price lists, names, rates."""

from decimal import Decimal

# (code, name, [(description, unit, price in EUR)])
PROVIDERS = [
    (
        "ACME",
        "Acme Cleaning",
        [
            ("Office cleaning", "hours", "32.50"),
            ("Window cleaning", "visit", "85.00"),
            ("Deep clean after works", "visit", "420.00"),
            ("Cleaning supplies", "kit", "18.90"),
        ],
    ),
    (
        "BOLT",
        "Bolt Repairs",
        [
            ("Plumbing call-out", "visit", "65.00"),
            ("Labour", "hours", "48.00"),
            ("Replacement parts", "set", "37.45"),
            ("Boiler service", "visit", "129.00"),
        ],
    ),
    (
        "GREEN",
        "Greenleaf Gardens",
        [
            ("Lawn mowing", "visit", "45.00"),
            ("Hedge trimming", "hours", "39.00"),
            ("Seasonal planting", "plan", "210.00"),
            ("Green waste removal", "load", "55.00"),
        ],
    ),
    (
        "HARBOR",
        "Harbor Logistics",
        [
            ("Pallet storage", "pallet-month", "14.75"),
            ("Courier delivery", "parcel", "9.80"),
            ("Freight handling", "hours", "52.00"),
            ("Customs paperwork", "file", "75.00"),
        ],
    ),
    (
        "PIXEL",
        "Pixel IT Support",
        [
            ("Helpdesk subscription", "seat-month", "24.00"),
            ("On-site support", "hours", "95.00"),
            ("Laptop setup", "device", "60.00"),
            ("Backup storage", "TB-month", "7.50"),
        ],
    ),
]
FIRST = [
    "Ada",
    "Bram",
    "Chloé",
    "Daan",
    "Elif",
    "Finn",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katya",
    "Lars",
    "Mila",
    "Noah",
    "Olga",
    "Pieter",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wout",
    "Xenia",
    "Yusuf",
    "Zoë",
]
LAST = [
    "Jansen",
    "de Vries",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Kaya",
    "Novak",
    "Rossi",
    "Schmidt",
    "Dubois",
    "Kowalski",
    "Larsen",
    "O'Brien",
    "Sato",
]
BUSINESS = [
    "Bakery",
    "Dental Practice",
    "Architects",
    "Bike Shop",
    "Café",
    "Law Office",
    "Studio",
    "Florist",
    "Hostel",
    "Print Shop",
    "Yoga School",
    "Pharmacy",
    "Brewery",
    "Book Shop",
    "Garage",
    "Gallery",
]
SUFFIX = ["BV", "Ltd", "GmbH", "& Co", "SARL", ""]
# Demo exchange rates from the EUR price lists (prices are rounded to the currency's unit).
RATES = {"EUR": Decimal("1"), "USD": Decimal("1.08"), "GBP": Decimal("0.86"), "JPY": Decimal("162")}
METHODS = ["bank_transfer"] * 6 + ["card", "card", "direct_debit", "cash", "check"]
