import pytest

from knowledge import pipeline
from knowledge.demo import seed_help_centre
from knowledge.index import cache
from knowledge.models import Document, KnowledgeBase
from knowledge.search import search
from tests.factories import DocumentFactory, KnowledgeBaseFactory

# (question a customer might write, the article that answers it)
QUESTIONS = [
    ("Can I get my money back? I bought the plan last week", "refund-policy.md"),
    ("How many days do refunds take to show up on my card?", "refund-policy.md"),
    ("There are two charges on my credit card statement from you today", "double-charge.md"),
    ("you billed me twice for the same month", "double-charge.md"),
    ("How do I change the credit card you bill?", "update-payment-method.md"),
    ("my renewal payment failed and now the workspace is read-only", "update-payment-method.md"),
    ("I need our VAT number on the invoice", "invoices-and-vat.md"),
    ("Where can I download receipts for accounting?", "invoices-and-vat.md"),
    ("How much does the Team plan cost per member?", "plans-and-pricing.md"),
    ("is there a discount for paying yearly", "plans-and-pricing.md"),
    ("How do I cancel my subscription?", "cancel-subscription.md"),
    ("do I get a discount as a nonprofit organisation", "student-nonprofit-discount.md"),
    ("I am a student, is Quillpad free for me?", "student-nonprofit-discount.md"),
    ("I forgot my password and cannot sign in", "reset-password.md"),
    ("the password reset email never arrived", "reset-password.md"),
    ("I lost my phone with the authenticator app and have no recovery codes", "two-factor-authentication.md"),
    ("how do I turn on 2FA with a security key", "two-factor-authentication.md"),
    ("How can I change the email address of my account?", "change-email.md"),
    ("my account is locked after too many failed sign-in attempts", "locked-out.md"),
    ("Please delete my account and all my data under GDPR", "delete-account.md"),
    ("How do I invite a colleague to our workspace?", "invite-members.md"),
    ("Do viewers count as paid seats?", "invite-members.md"),
    ("our workspace owner left the company, how do we transfer ownership", "transfer-ownership.md"),
    ("set up SAML single sign-on with Okta", "single-sign-on.md"),
    ("the upload is refused because the workspace storage is full", "storage-limits.md"),
    ("what is the maximum attachment file size", "storage-limits.md"),
    ("I need to restore an older version of a note", "version-history.md"),
    ("I deleted a note by accident, can I get it back from the trash?", "recover-deleted-notes.md"),
    ("How do I share a note with a client outside our company using a public link?", "sharing-notes.md"),
    ("Can I edit notes on a plane without internet?", "offline-mode.md"),
    ("changes on my laptop do not show up on my phone, sync is broken", "sync-problems.md"),
    ("How do I import my notes from Evernote?", "import-notes.md"),
    ("export the whole workspace as markdown zip", "export-data.md"),
    ("how to search only within one folder or by tag", "search-tips.md"),
    ("Which Android version does the mobile app need?", "mobile-apps.md"),
    ("The desktop app crashes on start on my Mac", "desktop-app-crash.md"),
    ("How do I get notifications in a Slack channel?", "slack-integration.md"),
    ("create meeting notes from my Google Calendar events", "calendar-integration.md"),
    ("the API returns 429 too many requests, what is the rate limit?", "api-and-rate-limits.md"),
    ("Is my data encrypted and where is it stored? We need a DPA", "security-and-privacy.md"),
    ("how fast does support answer on the Plus plan", "contact-support.md"),
    ("How long does the e-ink tablet battery last?", "quillpad-paper-tablet.md"),
    ("how much is express shipping and when will it arrive", "shipping-and-delivery.md"),
    ("My parcel has not moved for a week and the courier says it is lost", "late-or-lost-parcel.md"),
    ("I entered the wrong delivery address for my order", "change-delivery-address.md"),
    ("The tablet arrived with a cracked screen, I want my money back", "returns-and-damaged-items.md"),
    ("my stylus stopped working after a year, is that covered by warranty?", "device-warranty.md"),
]


@pytest.fixture
def help_centre(workspace) -> KnowledgeBase:
    return seed_help_centre(workspace)


def recall_at_5(base: KnowledgeBase) -> tuple[float, list[str]]:
    misses = []
    for question, article in QUESTIONS:
        found = [passage.source.rsplit("/", 1)[-1] + ".md" for passage in search(base, question, top_k=5)]
        if article not in found:
            misses.append(f"{question!r} → {found}")
    return 1 - len(misses) / len(QUESTIONS), misses


def test_the_demo_help_centre_has_about_thirty_articles(help_centre):
    assert help_centre.documents.filter(status="ready").count() >= 30


def test_it_finds_the_right_article_in_the_top_five_lexically(help_centre):
    assert len(QUESTIONS) >= 30
    KnowledgeBase.objects.filter(pk=help_centre.pk).update(embedding="")
    help_centre.refresh_from_db()
    recall, misses = recall_at_5(help_centre)
    assert recall >= 0.9, misses


def test_it_finds_the_right_article_in_the_top_five_with_embeddings(help_centre):
    assert help_centre.embedding == "builtin|hashing-512"
    assert all(help_centre.chunks.values_list("embedding", flat=True))
    recall, misses = recall_at_5(help_centre)
    assert recall >= 0.9, misses


def test_it_ranks_best_first_with_scores_between_zero_and_one(help_centre):
    # Keyword-only, the order and the score agree; hybrid order comes from rank fusion (docs/knowledge.md).
    KnowledgeBase.objects.filter(pk=help_centre.pk).update(embedding="")
    help_centre.refresh_from_db()
    passages = search(help_centre, "reset my password", top_k=5)
    assert passages[0].title == "Reset your password"
    assert all(0 < passage.score <= 1 for passage in passages)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_it_applies_metadata_filters(help_centre):
    passages = search(help_centre, "how do I change my card or my email", top_k=10, filters={"category": "account"})
    assert passages
    assert {p.metadata["category"] for p in passages} == {"account"}
    both = search(help_centre, "change", top_k=20, filters={"category": ["account", "billing"]})
    assert {p.metadata["category"] for p in both} == {"account", "billing"}
    assert search(help_centre, "password", filters={"category": "no-such-category"}) == []


def test_it_leaves_out_passages_below_the_minimum_score(help_centre):
    everything = search(help_centre, "password reset link email", top_k=20)
    threshold = everything[2].score
    kept = search(help_centre, "password reset link email", top_k=20, min_score=threshold)
    assert kept
    assert all(p.score >= threshold for p in kept)
    assert len(kept) < len(everything)


def test_it_gives_nothing_or_low_scores_for_words_no_document_holds(help_centre):
    assert all(passage.score < 0.2 for passage in search(help_centre, "xylophone zeppelin"))
    assert search(help_centre, "   ") == []
    KnowledgeBase.objects.filter(pk=help_centre.pk).update(embedding="")
    help_centre.refresh_from_db()
    assert search(help_centre, "xylophone zeppelin") == []


def test_the_cached_index_follows_changes(workspace):
    base = KnowledgeBaseFactory(workspace=workspace)
    document = DocumentFactory(knowledge_base=base, raw=b"Parrots can talk.")
    pipeline.ingest(document.pk)
    assert [p.text for p in search(base, "parrots")] == ["Parrots can talk."]
    first = cache.get(base)
    assert cache.get(base) is first
    Document.objects.filter(pk=document.pk).update(raw=b"Penguins cannot fly.")
    pipeline.ingest(document.pk)
    assert search(base, "parrots") == []
    assert [p.text for p in search(base, "penguins")] == ["Penguins cannot fly."]
    pipeline.delete(Document.objects.get(pk=document.pk))
    assert search(base, "penguins") == []


def test_it_falls_back_to_keywords_when_the_query_cannot_be_embedded(workspace, caplog):
    base = KnowledgeBaseFactory(workspace=workspace, embedding="builtin|hashing-512")
    pipeline.ingest(DocumentFactory(knowledge_base=base, raw=b"Parrots can talk.").pk)
    KnowledgeBase.objects.filter(pk=base.pk).update(embedding="builtin|removed-model")
    base.refresh_from_db()
    assert [p.text for p in search(base, "parrots")] == ["Parrots can talk."]
    assert "embedding the query failed" in caplog.text
