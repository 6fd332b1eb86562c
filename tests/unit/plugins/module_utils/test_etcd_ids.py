"""Member ids as etcdctl prints them, and back."""
import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_ids import format_member_id, parse_member_id


class TestIds:
    def test_ids_are_16_lower_case_hex_digits_like_etcdctl(self):
        assert format_member_id("7604965497571432693") == "698a43d3c3d8d8f5"
        assert format_member_id(1) == "0000000000000001"

    def test_parse_is_the_inverse(self):
        assert parse_member_id("698a43d3c3d8d8f5") == 7604965497571432693
        assert parse_member_id(format_member_id(2 ** 64 - 1)) == 2 ** 64 - 1

    @pytest.mark.parametrize("bad", ["", "xyz", "0x12", "1" * 17])
    def test_parse_rejects_what_is_not_an_id(self, bad):
        with pytest.raises(ValueError, match="16 hex digits"):
            parse_member_id(bad)
