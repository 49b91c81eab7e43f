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
