"""Can the warehouse ship to this address? A pure check naming the field at fault."""

from __future__ import annotations

from collections.abc import Mapping

from dropstream.models import Address


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


US_STATES = _codes(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY "
    # territories and the military "states" USPS delivers to
    "AS GU MP PR VI UM AA AE AP"
)
CA_PROVINCES = _codes("AB BC MB NB NL NS NT NU ON PE QC SK YT")
#: Some platforms give the name, not the code (BigCommerce: "Oregon"): both are a valid state.
US_STATE_NAMES = frozenset(
    name.casefold()
    for name in (
        "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
        "Delaware", "District of Columbia", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois",
        "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland",
        "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana",
        "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York",
        "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
        "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont",
        "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming", "American Samoa",
        "Guam", "Northern Mariana Islands", "Puerto Rico", "U.S. Virgin Islands",
        "Virgin Islands", "Armed Forces Americas", "Armed Forces Europe", "Armed Forces Pacific",
    )
)  # fmt: skip
CA_PROVINCE_NAMES = frozenset(
    name.casefold()
    for name in (
        "Alberta", "British Columbia", "Manitoba", "New Brunswick", "Newfoundland and Labrador",
        "Nova Scotia", "Northwest Territories", "Nunavut", "Ontario", "Prince Edward Island",
        "Quebec", "Québec", "Saskatchewan", "Yukon",
    )
)  # fmt: skip
STATE_CODES: Mapping[str, frozenset[str]] = {"US": US_STATES, "CA": CA_PROVINCES}
STATE_NAMES: Mapping[str, frozenset[str]] = {"US": US_STATE_NAMES, "CA": CA_PROVINCE_NAMES}
#: Countries (ISO 3166-1 alpha-2) without postal codes: an empty one is fine there.
NO_POSTAL_CODE = _codes(
    "AE AG AN AO AW BF BI BJ BO BS BW BZ CD CF CG CI CK CM DJ DM ER FJ GA GD GH GM GN GQ GY HK "
    "HM JM KE KI KM KN KP LC ML MO MR MS MW NA NR NU QA RW SB SC SL SO SR SS ST SY TD TF TG TK "
    "TL TO TT TV TZ UG VU YE ZW"
)
REQUIRED = ("name", "address1", "city", "country")


def address_problems(address: Address, limits: Mapping[str, int] | None = None) -> list[str]:
    """Why the warehouse could not ship to ``address`` (empty when it can).

    ``limits`` is the order file's longest allowed value per address field (e.g. X12's N3 holds
    55 characters): a longer value is a problem, never cut short.
    """
    problems = [f"ship-to {part} is empty" for part in REQUIRED if not getattr(address, part)]
    country = address.country.strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        problems.append(f"ship-to country {address.country!r} is not an ISO 3166-1 alpha-2 code")
    elif country and country not in NO_POSTAL_CODE and not address.postal_code.strip():
        problems.append(f"ship-to postal_code is empty (needed for {country})")
    states = STATE_CODES.get(country)
    state = address.state.strip()
    if (
        states is not None
        and state.upper() not in states
        and state.casefold() not in STATE_NAMES[country]
    ):
        shown = repr(address.state) if address.state else "empty"
        problems.append(f"ship-to state {shown} is not a {country} state code (e.g. "
                        f"{'NY' if country == 'US' else 'ON'})")  # fmt: skip
    for part, limit in sorted((limits or {}).items()):
        value = getattr(address, part, "")
        if len(value) > limit:
            problems.append(
                f"ship-to {part} is {len(value)} characters, the order file allows {limit}: "
                "shorten it in the store"
            )
    return problems
