import urllib.request


def test_moto_server_answers_on_loopback(moto_endpoint: str) -> None:
    assert moto_endpoint.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{moto_endpoint}/moto-api/", timeout=5) as response:
        assert response.status == 200
