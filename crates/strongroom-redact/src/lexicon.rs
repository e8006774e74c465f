//! The project's own short word lists (written for Strongroom, Apache-2.0):
//! the cues around names that gazetteers cannot give — honorifics, the
//! phrases that introduce a name, an employer or a place, the words that
//! head an organisation's name or end a street's — and everyday words that
//! a capital letter alone does not make a name. All lower-case.

/// Titles before a name: the name after them is a person's ("Mr. Okonkwo",
/// "MR. SMITH:", "Detective Ruiz", "Frau Weber").
#[rustfmt::skip]
pub(crate) const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady", "judge", "justice",
    "officer", "detective", "det", "sergeant", "sgt", "lt", "lieutenant", "captain", "capt", "inspector", "constable",
    "agent", "nurse", "rev", "reverend", "rabbi", "imam", "pastor", "father", "herr", "frau", "monsieur", "madame",
    "mme", "mlle", "señor", "señora", "senor", "senora", "sr", "sra", "srta", "don", "doña", "dona", "signor",
    "signora", "sig", "aunt", "auntie", "uncle", "mister", "madam", "mrs", "sen", "senator", "rep", "gov", "president",
    "chairman", "councillor", "councilor", "coach", "dott", "ing", "mag", "dipl",
];

/// People a speaker names by their relation: "my manager, Kwame Asante",
/// "her brother Emeka". A capitalised run right after one is a person.
#[rustfmt::skip]
pub(crate) const RELATIONS: &[&str] = &[
    "wife", "husband", "son", "daughter", "brother", "sister", "mother", "father", "mum", "mom", "mam", "dad",
    "cousin", "friend", "colleague", "coworker", "co-worker", "neighbour", "neighbor", "partner", "boss", "manager",
    "supervisor", "landlord", "landlady", "tenant", "lawyer", "attorney", "solicitor", "doctor", "teacher",
    "grandmother", "grandfather", "grandma", "grandpa", "granny", "niece", "nephew", "boyfriend", "girlfriend",
    "fiancé", "fiancée", "fiance", "fiancee", "ex-husband", "ex-wife", "brother-in-law", "sister-in-law",
    "mother-in-law", "father-in-law", "son-in-law", "daughter-in-law", "mentor", "customer", "employee", "applicant",
    "contractor", "caller", "visitor", "host", "driver", "witness", "suspect", "victim", "recruiter", "representative",
    "buddy", "lead", "director", "controller", "counsel", "agent", "clerk", "officer", "nurse", "therapist",
    "interpreter", "translator", "sibling", "child", "kid", "stepfather", "stepmother", "stepson", "stepdaughter",
    "roommate", "flatmate", "housemate", "ex", "assistant", "secretary", "tutor", "caseworker", "advisor", "adviser",
    "panel", "owner", "holder", "tenant", "mentee", "patient", "client", "uncle", "aunt", "grandson", "granddaughter",
    "named", "called", "told", "met", "meet", "asked", "ask", "thank", "thanks", "dear", "hello", "hi", "introduced",
    "ms", "mr",
];

/// Phrases (lower-cased words) after which a name follows, even in lower-case
/// speech-to-text output: "my name is jane roe", "this is marcus bell".
pub(crate) const NAME_CUES: &[&[&str]] = &[
    &["my", "name", "is"],
    &["my", "name's"],
    &["my", "names"],
    &["name", "is"],
    &["i", "am"],
    &["i'm"],
    &["im"],
    &["this", "is"],
    &["call", "me"],
    &["it's"],
    &["named"],
    &["called"],
    &["name"],
    &["je", "m'appelle"],
    &["je", "suis"],
    &["ich", "heiße"],
    &["ich", "heisse"],
    &["ich", "bin"],
    &["me", "llamo"],
    &["soy"],
    &["mi", "chiamo"],
    &["sono"],
    &["меня", "зовут"],
    &["meu", "nome", "é"],
    &["mijn", "naam", "is"],
    &["ik", "ben"],
    &["nazywam", "się"],
    &["jestem"],
    &["adım"],
    &["benim", "adım"],
];

/// The cues strong enough to find a name in text without capitals.
pub(crate) const STRONG_NAME_CUES: &[&[&str]] = &[
    &["my", "name", "is"],
    &["my", "name's"],
    &["my", "names"],
    &["name", "is"],
    &["this", "is"],
    &["call", "me"],
    &["i'm"],
    &["im"],
    &["i", "am"],
];

/// The cues after which a word is a name even when no gazetteer knows it
/// ("my name is deepak"): nothing else follows them.
pub(crate) const CERTAIN_NAME_CUES: &[&[&str]] =
    &[&["my", "name", "is"], &["my", "name's"], &["my", "names"], &["call", "me"], &["name", "is"]];

/// Phrases after which an employer or other organisation follows.
pub(crate) const ORG_CUES: &[&[&str]] = &[
    &["work", "for"],
    &["work", "at"],
    &["works", "for"],
    &["works", "at"],
    &["worked", "for"],
    &["worked", "at"],
    &["working", "for"],
    &["working", "at"],
    &["employed", "by"],
    &["employed", "at"],
    &["joined"],
    &["bought", "by"],
    &["acquired", "by"],
    &["driver", "for"],
    &["drive", "for"],
    &["driving", "for"],
    &["member", "of"],
    &["banked", "with"],
    &["bank", "with"],
    &["called"],
    &["chez"],
    &["bei"],
    &["studying", "at"],
    &["studied", "at"],
    &["degree", "from"],
    &["job", "at"],
    &["contract", "with"],
    &["invoice", "from"],
    &["letter", "from"],
    &["complaint", "from"],
    &["vendor"],
    &["supplier"],
    &["client"],
];

/// Words after which a place follows.
#[rustfmt::skip]
pub(crate) const PLACE_CUES: &[&str] = &[
    "in", "from", "to", "near", "à", "aus", "nach", "en", "в", "во", "из", "στην", "στη", "στο", "από", "outside",
    "around", "across", "toward", "towards", "between", "visit", "visited", "visiting",
];

/// Words that end an organisation's name (beyond Faker's company suffixes):
/// "Pinecrest Freight LLC", "First Meridian Bank", "Riverside Housing Association".
#[rustfmt::skip]
pub(crate) const ORG_WORDS: &[&str] = &[
    "inc", "inc.", "ltd", "ltd.", "llc", "llp", "plc", "corp", "corp.", "corporation", "company", "co", "co.", "gmbh",
    "ag", "sa", "s.a.", "nv", "bv", "ab", "as", "oy", "spa", "s.p.a.", "srl", "sarl", "kg", "limited", "group",
    "holdings", "partners", "associates", "bank", "university", "college", "hospital", "clinic", "foundation", "trust",
    "association", "institute", "society", "union", "council", "agency", "ministry", "department", "authority",
    "services", "solutions", "technologies", "technology", "systems", "labs", "laboratories", "logistics", "freight",
    "consulting", "insurance", "capital", "industries", "enterprises", "international", "media", "pharmaceuticals",
    "biologics", "analytics", "networks", "software", "airlines", "motors", "express", "supplies", "shipping",
    "trading", "bakery", "dairy", "care", "home", "school", "academy", "church", "centre", "center", "charity", "fund",
    "commission", "office", "police", "court", "cross", "infirmary", "medical", "health", "energy", "electric",
    "telecom", "communications", "pharmacy", "store", "stores", "markets", "foods", "builders", "construction",
    "realty", "properties", "ventures", "studios", "press", "publishing", "bancorp", "financial", "finance",
    "securities", "investments", "mutual", "cooperative", "co-op", "club", "league", "federation", "organisation",
    "organization", "partnership", "firm", "llp.", "pty", "pvt", "sp.", "z", "o.o.", "s.r.o.", "a.s.", "kft", "zrt",
    "ood", "eood", "d.o.o.", "tbk", "bhd", "sdn", "k.k.", "kk",
];

/// Faker's company suffixes that are everyday words in running text.
pub(crate) const NOT_ORG_SUFFIXES: &[&str] =
    &["con", "et", "e", "y", "i", "a", "de", "do", "da", "the", "and", "z", "o.o", "club", "familia", "cross"];

/// Words that head an organisation's name: "University of Cape Town",
/// "Ministry of Health", "Bank of America", "City of Chicago".
#[rustfmt::skip]
pub(crate) const ORG_HEADS: &[&str] = &[
    "university", "bank", "ministry", "department", "city", "county", "state", "college", "institute", "school",
    "academy", "church", "royal", "office", "bureau", "board", "commission", "society", "federation", "council",
    "hospital", "museum", "library", "court", "house", "republic", "kingdom", "united", "national", "federal",
    "université", "universidad", "università", "universität", "banco", "banque", "ministère", "ministerio",
];

/// The heads that make an organisation only with "of" after them ("City of
/// Chicago"), not alone ("City Hall" stays text).
#[rustfmt::skip]
pub(crate) const ORG_HEADS_NEED_OF: &[&str] = &[
    "city", "county", "state", "court", "house", "office", "board", "royal", "national", "federal", "united",
    "republic", "kingdom",
];

/// Street types, English and others (Faker's lists add many more).
#[rustfmt::skip]
pub(crate) const STREET_WORDS: &[&str] = &[
    "street", "st", "st.", "avenue", "ave", "ave.", "av", "av.", "road", "rd", "rd.", "lane", "ln", "ln.", "drive",
    "dr", "dr.", "boulevard", "blvd", "blvd.", "way", "court", "ct", "ct.", "place", "pl", "pl.", "terrace", "close",
    "crescent", "square", "sq", "parkway", "pkwy", "highway", "hwy", "circle", "cir", "trail", "row", "mews",
    "gardens", "grove", "hill", "walk", "alley", "plaza", "park", "green", "rise", "view", "heights", "wharf", "quay",
    "embankment", "parade", "broadway", "route", "pike", "turnpike", "loop", "path", "expressway", "freeway",
    "strasse", "straße", "str.", "weg", "gasse", "platz", "allee", "rue", "calle", "via", "viale", "avenida", "rua",
    "ulica", "ul.", "piazza", "corso", "chemin", "allée", "carrer", "plein", "laan", "straat", "gracht", "gatan",
    "vägen", "gade", "vej", "veien", "gata", "utca", "út", "caddesi", "sokak", "sk.", "cad.",
];

/// Street words of Faker's lists that are everyday words next to a number.
#[rustfmt::skip]
pub(crate) const NOT_STREET_WORDS: &[&str] = &[
    "a", "de", "la", "le", "di", "del", "des", "du", "da", "van", "the", "and", "of", "on", "in", "bis", "ter", "old",
    "new", "north", "south", "east", "west", "upper", "lower", "great", "little", "big", "high", "main", "st", "saint",
    "station", "port", "club", "center", "centre", "point", "points", "spur", "light", "lights", "lock", "locks",
    "ford", "fords", "key", "keys", "mill", "mills", "cape", "camp", "flat", "flats", "run", "forge", "forges", "fork",
    "forks", "ramp", "shoal", "shoals", "union", "unions", "pass", "view", "views", "way", "ways", "well", "wells",
    "rest", "stream", "valley", "valleys", "course", "meadow", "meadows", "motorway", "ranch", "branch", "dale", "dam",
    "divide", "estate", "estates", "field", "fields", "harbor", "harbors", "haven", "hollow", "inlet", "island",
    "islands", "isle", "junction", "junctions", "knoll", "knolls", "lake", "lakes", "land", "landing", "manor",
    "manors", "mission", "mount", "mountain", "mountains", "neck", "orchard", "oval", "pine", "pines", "plain",
    "plains", "prairie", "radial", "ridge", "ridges", "river", "shore", "shores", "spring", "springs", "summit",
    "throughway", "trace", "track", "trafficway", "tunnel", "underpass", "vista", "ville", "villages", "village",
    "ways", "bypass", "cliff", "cliffs", "common", "commons", "corner", "corners", "creek", "crest", "crossing",
    "crossroad", "curve", "glen", "glens", "harbour", "bluff", "bluffs", "bottom", "brook", "brooks", "burg", "burgs",
    "bayou", "beach", "bend", "canyon", "causeway", "extension", "fall", "falls", "ferry", "flats", "freeway",
    "gateway", "gardens", "hills", "lodge", "overpass", "port", "ports", "trailer", "pines", "stravenue", "skyway",
    "pl", "str",
];

/// Words that end the name of a place people go to: "Victoria Station", "Heathrow Airport".
#[rustfmt::skip]
pub(crate) const FACILITIES: &[&str] = &[
    "station", "airport", "hotel", "stadium", "arena", "mall", "bridge", "cathedral", "palace", "harbour", "harbor",
    "terminal", "pier", "beach", "lake", "river", "mountain", "mountains", "valley", "island", "islands", "county",
    "province", "region", "district", "borough", "township", "village", "park",
];

/// Words before a capitalised word that make it a thing, not a person: "a Nike jacket", "the Hilton".
pub(crate) const DETERMINERS: &[&str] = &["a", "an", "the", "these", "those", "our", "their", "its"];

/// Particles inside a name: "Yvonne de Vries", "Ms. van der Berg", "Ahmed bin Said".
#[rustfmt::skip]
pub(crate) const NAME_PARTICLES: &[&str] = &[
    "van", "der", "den", "de", "del", "della", "di", "da", "du", "dos", "das", "do", "von", "zu", "la", "le", "bin",
    "ibn", "bint", "al", "el", "ten", "ter", "ní", "nic", "mac", "ó", "ap",
];

/// Joiners that split a run that is not one organisation's name into its
/// parts: "Lucía Fernández and Tomás Iglesias", "Thomas Müller of Siemens AG".
pub(crate) const SPLITTERS: &[&str] = &["&", "of", "and", "for", "the", "und", "et", "y", "e", "or", "with", "to"];

/// Jobs after which "at" names the employer: "a software engineer at Wipro".
#[rustfmt::skip]
pub(crate) const JOBS: &[&str] = &[
    "manager", "engineer", "nurse", "analyst", "intern", "director", "cleaner", "driver", "teacher", "student",
    "clerk", "controller", "developer", "consultant", "accountant", "worker", "employee", "doctor", "lawyer",
    "associate", "partner", "paralegal", "cashier", "chef", "cook", "officer", "assistant", "researcher", "scientist",
    "designer", "receptionist", "supervisor", "volunteer", "auditor", "programmer", "technician", "secretary",
    "administrator", "executive", "representative", "agent", "professor", "lecturer", "guard", "mechanic",
    "pharmacist", "specialist", "coordinator", "trainee", "apprentice", "contractor", "staff", "job", "position",
    "role", "internship", "shift", "work", "worked", "works", "working", "training",
];

/// Words that join an organisation's name: "Harlow & Finch", "Ministry of Health".
pub(crate) const ORG_JOINERS: &[&str] =
    &["&", "of", "and", "for", "the", "de", "du", "des", "la", "le", "y", "und", "et"];

/// Numbers written as words, as speech-to-text writes a house number.
#[rustfmt::skip]
pub(crate) const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
    "sixty", "seventy", "eighty", "ninety", "hundred", "thousand",
];

/// Everyday words (beyond Faker's lorem list) that open sentences or carry
/// capitals in legal and interface text without being names: the court's
/// roles, document parts, weekdays, titles of address, UI verbs.
#[rustfmt::skip]
pub(crate) const COMMON_WORDS: &[&str] = &[
    // function words and sentence openers
    "a", "an", "the", "and", "or", "but", "if", "so", "then", "yes", "no", "not", "yeah", "okay", "ok", "um", "uh",
    "hi", "hello", "hey", "thanks", "thank", "please", "sure", "well", "oh", "honestly", "actually", "maybe", "i",
    "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "we", "our", "us", "you", "your", "he", "him", "his", "she",
    "her", "hers", "it", "its", "they", "them", "their", "this", "that", "these", "those", "there", "here", "what",
    "who", "whom", "whose", "which", "when", "where", "why", "how", "did", "do", "does", "was", "were", "is", "are",
    "be", "been", "am", "have", "has", "had", "can", "could", "would", "should", "will", "shall", "may", "might",
    "must", "let", "let's", "after", "before", "at", "in", "on", "of", "for", "to", "from", "by", "with", "about",
    "into", "over", "under", "between", "during", "since", "until", "while", "because", "as", "also", "only", "just",
    "all", "any", "each", "every", "some", "none", "both", "either", "neither", "one", "two", "three", "first",
    "second", "third", "last", "next", "other", "another", "same", "such", "very", "too", "again", "once", "twice",
    "still", "even", "ever", "never", "always", "often", "now", "today", "yesterday", "tomorrow", "morning",
    "afternoon", "evening", "night", "good", "great", "new", "old", "nothing", "everything", "something", "anything",
    "everyone", "someone", "anyone", "nobody", "somebody", "everybody", "q", "a", "re", "dear", "regards", "best",
    "sincerely", "cheers", "fine", "right", "correct", "true", "false", "like", "don't", "didn't", "doesn't", "can't",
    "won't", "isn't", "wasn't", "that's", "it's", "there's", "what's", "he's", "she's", "we're", "they're", "you're",
    "we've", "they've", "you've", "briefly", "nobody", "not", "mostly", "really", "only", "later", "earlier", "soon",
    "once", "twice", "unfortunately", "luckily",
    // weekdays and months
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "christmas", "eve", "easter", "spring", "summer",
    "autumn", "fall", "winter",
    // the courtroom and the record
    "court", "witness", "plaintiff", "plaintiffs", "defendant", "defendants", "respondent", "appellant", "petitioner",
    "claimant", "counsel", "honor", "honour", "objection", "sustained", "overruled", "exhibit", "exhibits", "record",
    "reporter", "deposition", "examination", "cross", "direct", "redirect", "recess", "judge", "jury", "juror",
    "bench", "clerk", "bailiff", "motion", "order", "notice", "appeal", "complaint", "answer", "question", "paragraph",
    "section", "article", "chapter", "part", "page", "clause", "schedule", "appendix", "annex", "agreement",
    "contract", "policy", "terms", "conditions", "service", "services", "addendum", "regulation", "act", "statute",
    "law", "code", "conduct", "handbook", "report", "annual", "budget", "board", "committee", "company", "state",
    "people", "government", "commonwealth", "county", "city", "district", "federal", "national", "regional", "central",
    "north", "south", "east", "west", "northern", "southern", "eastern", "western", "upper", "lower", "attorney",
    "general", "prosecutor", "defense", "defence", "prosecution", "affidavit", "declaration", "transcript", "volume",
    "line", "lines", "proceedings", "hearing", "trial", "case", "matter", "claim", "claims", "party", "parties",
    "counsel's", "privacy", "data", "processing", "personal", "information", "confidential", "privileged", "employee",
    "employer", "manager", "director", "officer", "president", "chairman", "secretary", "treasurer", "ceo", "cfo",
    "cto", "hr", "it", "team", "department", "office", "unit", "division", "staff", "member", "members",
    // interfaces and documents
    "click", "press", "open", "close", "save", "submit", "cancel", "accept", "decline", "next", "back", "finish",
    "enter", "settings", "options", "help", "home", "menu", "file", "edit", "view", "tools", "window", "start", "stop",
    "login", "logout", "sign", "search", "download", "upload", "delete", "send", "reply", "forward", "inbox",
    "outlook", "excel", "word", "teams", "zoom", "slack", "windows", "mac", "android", "iphone", "email", "e-mail",
    "phone", "mobile", "address", "name", "date", "time", "number", "total", "subtotal", "invoice", "receipt", "order",
    "account", "balance", "payment", "refund", "ticket", "note", "notes", "status", "priority", "subject", "summary",
    "description", "details", "comments", "attachment", "form", "application", "grant", "bill", "mark", "will", "hope",
    "faith", "joy", "art", "rose", "dawn", "summer", "autumn", "sunny", "amber", "ivy", "holly", "lily", "daisy",
    "violet", "iris", "ruby", "pearl", "crystal", "destiny", "angel", "chance", "chase", "hunter", "king", "prince",
    "major", "bishop", "cook", "baker", "miller", "smith", "carter", "brown", "white", "black", "green", "gray",
    "grey", "young", "long", "short", "little", "rich", "strong", "wise", "rich", "price", "cash", "gold", "silver",
    "stone", "wood", "woods", "field", "hill", "lake", "river", "brook", "bush", "rivers", "banks", "bell", "ford",
    "hall", "chapel", "church", "temple", "castle", "tower", "bridge", "lane", "street", "road", "avenue", "park",
    "garden", "island", "beach", "valley", "mountain", "sun", "moon", "star", "sky", "sea", "ocean", "north", "key",
    "lock", "gate", "door", "wall", "floor", "room", "english", "french", "german", "spanish", "italian", "korean",
    "chinese", "japanese", "russian", "arabic", "american", "british", "european", "african", "asian", "indian",
    "canadian", "australian", "irish", "scottish", "welsh", "dutch", "polish", "greek", "turkish", "mexican",
    "brazilian", "portuguese", "swedish", "norwegian", "danish", "finnish", "swiss", "austrian", "belgian", "muslim",
    "christian", "jewish", "catholic", "god", "lord", "jesus", "allah", "bible", "internet", "web", "online", "covid",
    "covid-19", "ok", "pdf", "usb", "tv", "dvd", "gps", "atm", "pin", "id", "ssn", "dob", "n/a", "tbd", "asap", "fyi",
    "faq", "url", "api", "good", "morning", "everyone", "all", "chapter", "part", "three", "finance", "marketing",
    "sales", "legal", "accounting", "engineering", "support", "operations", "security", "quality", "research",
    "development", "visitor", "log", "agent", "vendor", "supplier", "customer", "caller", "applicant", "reference",
    "contact", "host", "mentor", "buddy", "onboarding", "panel", "interview", "complaint", "parcel", "package",
    "courier", "shipping", "statement", "mail", "meeting", "callback", "contractor", "invoices", "tenant", "landlord",
    "ex", "former", "current", "previous", "new", "employee", "escalated", "spoke", "refund", "issued", "approved",
    "manager", "nurse", "doctor", "detective", "father", "mother", "sister", "brother", "aunt", "uncle", "mr", "mrs",
    "ms", "dr", "sir", "madam", "miss",
    // function words of other languages in this corpus's sentences
    "je", "ich", "yo", "io", "mi", "me", "il", "el", "la", "le", "les", "los", "las", "lo", "der", "die", "das", "und",
    "et", "y", "e", "o", "ou", "un", "une", "una", "uno", "ein", "eine", "ik", "het", "een", "en", "och", "og", "ja",
    "и", "я", "в", "на", "с", "мой", "моя", "меня", "η", "ο", "και", "το", "του", "της", "soy", "sono", "bin", "ben",
    "est", "es", "ist", "è", "é", "da", "de", "di", "du", "des", "del", "della", "von", "van", "zu", "al", "bei",
    "chez", "aus", "mit", "con", "per", "pour", "para", "por", "sur", "sous", "nel", "nella", "im", "am", "vom", "zum",
    "zur", "au", "aux", "do", "dos", "das", "na", "no", "nos", "w", "z", "i", "ve", "bir", "benim", "adım", "hola",
    "bonjour", "hallo", "ciao", "buongiorno", "buenos", "días", "señor", "señora",
];
