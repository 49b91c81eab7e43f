"""The words headquarters plans and reports with (from the seed studies), and other fixed lists."""

STEPS = ("origin", "transit", "camp", "arrival", "stay", "return")
DIMENSIONS = ("regulatory", "financial", "physical", "human", "social", "natural")
SUPPORT = ("assistance", "protection", "awareness", "advocacy")
CHANNELS = ("screen", "phone")
CONTACT_TOPICS = (
    "emergency",
    "trafficking",
    "labour",
    "documents",
    "health",
    "money",
    "legal",
    "return",
)

# Interface words the kiosk's pages and voice use; the reference language must define them all
# (a test checks the templates use no other). Other keys in ui/<tag>.toml are allowed.
REQUIRED_UI_KEYS = (
    "kiosk_name", "choose_language", "home", "listen", "stop", "listen_all", "listen_title",
    "next_guide", "previous_guide", "sections", "help", "help_intro", "search",
    "search_placeholder", "search_results", "search_none", "take_with_you", "save_text",
    "save_audio", "leaflet", "take_with_you_hint", "call", "scan_to_call", "hours",
    "languages_spoken",
    "last_verified", "not_verified_recently", "example_contact", "all_countries", "country_filter",
    "language_filter", "show", "not_found", "not_found_hint", "open_on_phone", "join_wifi",
    "continue_to_guides", "portal_intro", "text_only", "helpful_question", "yes", "no", "thanks",
    "welcome", "not_translated", "also_in", "reference_changed", "story", "names_changed",
    *(f"step.{step}" for step in STEPS),
)  # fmt: skip
# Words every language must have before it is shown at all: those of the Help page, where a
# visitor in trouble must understand every word, and the names of the help topics. Any other
# word a translation lacks is shown in the reference language, marked as such.
SAFETY_UI_KEYS = (
    "help", "help_intro", "call", "scan_to_call", "hours", "languages_spoken",
    "not_verified_recently", "example_contact", "country_filter", "language_filter",
    "all_countries", "show",
    *(f"topic.{topic}" for topic in CONTACT_TOPICS),
)  # fmt: skip

# A help line not checked for this long is flagged to visitors and warned about at build time.
STALE_AFTER_DAYS = 365
# Headquarters' own k: it leaves out every count kiosks sent below this before adding any up
# (kiosk.hq.totals), whatever k each kiosk's librarian chose (2 or more).
HQ_K = 5
# The addresses of the device itself: the touchscreen's window, the librarian on the screen.
LOOPBACK = frozenset({"127.0.0.1", "::1"})
