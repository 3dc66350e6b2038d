"""The one account the simulator knows when started without --accounts.

The README demo imports these exact values into the proxy, so they are part of the
public interface: change them only together with the README.
"""

DEMO_EMAIL = "demo@example.com"
DEMO_SECURE_C_SES = "demo-secure-c-ses"
DEMO_HOST_C_OSES = "demo-host-c-oses"
DEMO_CSESIDX = "424242"
DEMO_CONFIG_ID = "d06739ca-6683-46db-bb51-07395a392439"

# The same account in the import format of upstream-protocol.md §2.3.
DEMO_ACCOUNT = {
    "id": DEMO_EMAIL,
    "secure_c_ses": DEMO_SECURE_C_SES,
    "host_c_oses": DEMO_HOST_C_OSES,
    "csesidx": DEMO_CSESIDX,
    "config_id": DEMO_CONFIG_ID,
}
