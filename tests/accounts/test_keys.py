import hashlib
import hmac

from accounts.keys import KEY_LENGTH, key_generate, key_hash, key_is_well_formed, key_visible_prefix


def test_generated_keys_are_well_formed_and_distinct():
    keys = {key_generate() for _ in range(200)}

    assert len(keys) == 200
    assert all(key.startswith("pp_") and len(key) == KEY_LENGTH and key_is_well_formed(key) for key in keys)


def test_every_single_character_typo_breaks_the_checksum():
    key = key_generate()
    for position in range(3, len(key)):
        replacement = "a" if key[position] != "a" else "b"
        assert not key_is_well_formed(key[:position] + replacement + key[position + 1 :]), position


def test_swapped_neighbours_break_the_checksum():
    key = key_generate()
    swaps = [key[:i] + key[i + 1] + key[i] + key[i + 2 :] for i in range(3, len(key) - 1) if key[i] != key[i + 1]]

    assert not any(key_is_well_formed(swapped) for swapped in swaps)


def test_the_hash_is_a_keyed_hmac_of_the_key(settings):
    settings.API_KEY_HASH_SECRET = "pepper"
    key = key_generate()

    assert key_hash(key) == hmac.new(b"pepper", key.encode(), hashlib.sha256).hexdigest()
    settings.API_KEY_HASH_SECRET = "other pepper"
    assert key_hash(key) != hmac.new(b"pepper", key.encode(), hashlib.sha256).hexdigest()


def test_the_visible_prefix_shows_a_few_random_characters():
    key = key_generate()

    assert key_visible_prefix(key) == key[:11]
