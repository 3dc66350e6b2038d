"""The model catalogue: today's ids, kinds as data, retired and unknown names, MODELS pass-through."""
import pytest

from app.config import Config
from app.upstream.models import IMAGE, KINDS, TEXT, VIDEO, Catalogue, ModelUnavailable

TODAY = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3.1-pro-preview")


def catalogue(**env):
    return Catalogue(Config.from_env(env))


MEDIA_NAMES = ["nano-banana-2", "gemini-3.1-flash-image", "veo-3.1-lite-generate"]


def test_advertised_models_are_todays_ids_auto_and_the_media_models():
    ids = [m.id for m in catalogue().all()]
    assert ids == ["gemini-business", *TODAY, *MEDIA_NAMES]  # text first: a client taking the first gets a chat model
    assert "gemini-3-pro-preview" not in ids


def test_auto_sends_no_model_id_and_real_ids_map_to_themselves():
    models = catalogue()
    assert models.resolve("gemini-business").upstream_id is None
    for name in TODAY:
        assert models.resolve(name).upstream_id == name and models.resolve(name).kind == TEXT


@pytest.mark.parametrize("name,kind,tool", [
    ("nano-banana-2", IMAGE, "imageGenerationSpec"),
    ("gemini-3.1-flash-image", IMAGE, "imageGenerationSpec"),
    ("veo-3.1-lite-generate", VIDEO, "videoGenerationSpec"),
])
def test_media_names_know_their_kind_and_tool_and_send_no_model_id(name, kind, tool):
    model = catalogue().resolve(name)
    assert (model.kind, model.tool, model.upstream_id) == (kind, tool, None)


def test_every_model_has_a_known_kind_and_clients_hard_coded_names_are_text():
    models = catalogue()
    assert all(m.kind in KINDS for m in models.models.values())
    assert models.resolve("gpt-3.5-turbo").kind == TEXT  # the seed README's example keeps working


def test_media_models_are_served_and_listed():
    models = catalogue()
    for name in MEDIA_NAMES:
        assert models.choose(name).id == name
        assert name in [m.id for m in models.all()]


def test_a_retired_model_is_a_404_that_names_its_successor():
    with pytest.raises(ModelUnavailable) as caught:
        catalogue().choose("gemini-3-pro-preview")
    assert (caught.value.status, caught.value.code) == (404, "model_not_found")
    assert "'gemini-3-pro-preview'" in caught.value.message and "'gemini-3.1-pro-preview'" in caught.value.message


def test_an_unknown_model_is_a_404_listing_what_exists():
    with pytest.raises(ModelUnavailable) as caught:
        catalogue().choose("llama-3")
    assert caught.value.status == 404 and "gemini-3.1-pro-preview" in caught.value.message


def test_models_passes_an_id_the_gateway_never_heard_of_straight_through():
    """The fix for the next rename: MODELS lists it, and it goes upstream as it is."""
    models = catalogue(MODELS="gemini-2.5-flash,gemini-4-pro-preview,gemini-3-pro-preview")
    assert models.choose("gemini-4-pro-preview").upstream_id == "gemini-4-pro-preview"
    assert models.choose("gemini-3-pro-preview").upstream_id == "gemini-3-pro-preview"  # brought back
    assert [m.id for m in models.all()] == ["gemini-business", "gemini-2.5-flash", "gemini-4-pro-preview",
                                            "gemini-3-pro-preview", *MEDIA_NAMES]
