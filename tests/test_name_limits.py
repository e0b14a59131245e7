"""Check-in and lookup limits follow the name too (issue 13 item 6): a phone changing
address does not reset them; other names, from the same address, are not blocked."""


def addr(n):
    return {"REMOTE_ADDR": f"10.42.0.{n}"}


def test_checkins_under_one_name_from_changing_addresses(client):
    for n in range(3):
        assert client.post("/api/v1/safe", json={"name": "Jeanne Durand"}, environ_base=addr(10 + n)).status_code == 201
    refused = client.post("/api/v1/safe", json={"name": "  JEANNE durand "}, environ_base=addr(20))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    # someone else, from the very address that was refused: served
    assert client.post("/api/v1/safe", json={"name": "Paul Martin"}, environ_base=addr(20)).status_code == 201


def test_lookups_of_one_name_from_changing_addresses(client):
    for n in range(10):
        assert client.get("/api/v1/safe?name=Jeanne+Durand", environ_base=addr(30 + n)).status_code == 200
    assert client.get("/api/v1/safe?name=jeanne-durand", environ_base=addr(50)).status_code == 429
    assert client.get("/api/v1/safe?name=Paul+Martin", environ_base=addr(50)).status_code == 200


def test_a_refusal_counts_nowhere(client):
    """Refused by the name's limit, the address's own count does not move."""
    for n in range(3):
        client.post("/api/v1/safe", json={"name": "Jeanne Durand"}, environ_base=addr(60 + n))
    for _ in range(10):
        assert client.post("/api/v1/safe", json={"name": "Jeanne Durand"}, environ_base=addr(70)).status_code == 429
    assert client.post("/api/v1/safe", json={"name": "Paul Martin"}, environ_base=addr(70)).status_code == 201


def test_the_form_follows_the_name_too(client, post_form):
    for n in range(3):
        assert client.post("/api/v1/safe", json={"name": "Jeanne Durand"}, environ_base=addr(80 + n)).status_code == 201
    page = post_form("/securite", {"name": "Jeanne Durand", "note": "à la salle"})
    assert page.status_code == 429 and "à la salle" in page.get_data(as_text=True)
