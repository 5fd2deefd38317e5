"""Where the demo's borrowers live and who they are: districts weighted by population,
names, national IDs, phones and map points."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

from faker import Faker

from doorstep.demo.randomness import Rng
from doorstep.domain.calendar import add_months
from doorstep.domain.identity import id_check_digit

# Approximate residents per district (2020 census, 10k people): borrowers live where
# people live, so the planner later sees a realistic density.
POPULATION: dict[str, dict[str, int]] = {
    "北京市": {
        "东城区": 71, "西城区": 111, "朝阳区": 345, "丰台区": 202, "石景山区": 57,
        "海淀区": 313, "门头沟区": 39, "房山区": 131, "通州区": 184, "顺义区": 132,
        "昌平区": 227, "大兴区": 199, "怀柔区": 44, "平谷区": 46, "密云区": 53, "延庆区": 35,
    },
    "上海市": {
        "黄浦区": 66, "徐汇区": 111, "长宁区": 69, "静安区": 98, "普陀区": 124, "虹口区": 76,
        "杨浦区": 124, "闵行区": 265, "宝山区": 224, "嘉定区": 183, "浦东新区": 568,
        "金山区": 82, "松江区": 191, "青浦区": 127, "奉贤区": 114, "崇明区": 64,
    },
    "广州市": {
        "荔湾区": 112, "越秀区": 104, "海珠区": 182, "天河区": 224, "白云区": 374,
        "黄埔区": 120, "番禺区": 266, "花都区": 164, "南沙区": 85, "从化区": 72, "增城区": 147,
    },
}  # fmt: skip
# city -> (province, landline area code, adcode prefix in cpca)
CITIES = {
    "北京市": ("北京市", "010", "1101"),
    "上海市": ("上海市", "021", "3101"),
    "广州市": ("广东省", "020", "4401"),
}
SCATTER_KM = 2.5  # a home is a Gaussian step of this size from its district's centroid
KM_PER_DEGREE = 111.0
NO_COORDINATES = 0.10  # share of addresses left for the geocoder
MAX_AGE_DAYS = 1095  # loans were disbursed within three years of the book date

MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "170", "176", "177", "178", "180", "181",
    "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip
RELATIONS = ("spouse", "parent", "sibling", "child", "friend", "colleague")
ESTATE_KINDS = ("花园", "小区", "公寓", "家园", "苑", "新村", "雅居")


@dataclass(frozen=True, slots=True)
class District:
    adcode: str  # 6 digits: also the region code of a national ID registered there
    province: str
    city: str
    name: str
    lat: float
    lng: float
    area_code: str  # landline prefix


def load_districts() -> list[tuple[District, int]]:
    """The districts of the three cities with their centroids (from cpca) and population."""
    text = resources.files("cpca").joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    known: dict[tuple[str, str], tuple[str, float, float]] = {}
    for line in text.splitlines()[1:]:
        adcode, name, longitude, latitude = line.split(",")
        if longitude and latitude:  # cpca's 12-digit adcode: 6 digits name the district
            known[(adcode[:4], name)] = (adcode[:6], float(latitude), float(longitude))
    found = []
    for city, districts in POPULATION.items():
        province, area_code, prefix = CITIES[city]
        for name, people in districts.items():
            code, lat, lng = known[(prefix, name)]
            found.append((District(code, province, city, name, lat, lng, area_code), people))
    return found


# --- people ------------------------------------------------------------------------------


def birth_date(as_of: date, rng: Rng) -> date:
    """Aged 20 to 60 on `as_of`, most borrowers in their late twenties and thirties."""
    youngest = add_months(as_of, -20 * 12)
    oldest = add_months(as_of, -61 * 12) + timedelta(days=1)
    span = (youngest - oldest).days
    return youngest - timedelta(days=int(rng.beta(2.0, 3.5) * span))


def person_name(fake: Faker, male: bool) -> str:
    """Family name and a given name of the right gender (Faker's zh_CN name_male and
    name_female mix both)."""
    given = fake.first_name_male() if male else fake.first_name_female()
    return str(fake.last_name()) + str(given)


def national_id(region: str, born: date, male: bool, rng: Rng) -> str:
    """GB 11643: region, birth date, a sequence whose last digit is odd for men, check."""
    sequence = rng.integers(0, 500) * 2 + (1 if male else 0)
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)


def mobile(rng: Rng, taken: list[str]) -> str:
    """A mainland mobile number not already among this customer's numbers."""
    while True:
        number = MOBILE_PREFIXES[rng.integers(len(MOBILE_PREFIXES))]
        number += f"{rng.integers(10**8):08d}"
        if number not in taken:
            taken.append(number)
            return number


def landline(area_code: str, rng: Rng) -> str:
    return f"{area_code}-{rng.integers(20_000_000, 90_000_000)}"


def day_between(first: date, last: date, rng: Rng) -> date:
    """A day in [first, last]; `last` when the range is empty."""
    span = (last - first).days
    return last if span <= 0 else first + timedelta(days=rng.integers(span + 1))


def stamp(day: date, rng: Rng) -> str:
    """An observation time during business hours in China (UTC+8)."""
    return f"{day.isoformat()}T{rng.integers(8, 21):02d}:{rng.integers(60):02d}:00+08:00"


@dataclass(frozen=True, slots=True)
class Places:
    """Street and estate names drawn once from Faker, then picked by the numpy stream."""

    streets: list[str]
    estates: list[str]

    @classmethod
    def make(cls, fake: Faker) -> Places:
        return cls(
            [fake.street_name() for _ in range(800)], [fake.company_prefix() for _ in range(400)]
        )

    def pick(self, names: list[str], rng: Rng) -> str:
        return names[rng.integers(len(names))]

    def home(self, district: District, rng: Rng) -> str:
        """e.g. 北京市朝阳区建国路88号华贸公寓3栋402室."""
        estate = self.pick(self.estates, rng) + ESTATE_KINDS[rng.integers(len(ESTATE_KINDS))]
        unit = f"{rng.integers(1, 5)}单元" if rng.random() < 0.5 else ""
        room = rng.integers(1, 33) * 100 + rng.integers(1, 7)
        return (
            f"{_prefix(district)}{self.pick(self.streets, rng)}{rng.integers(1, 400)}号"
            f"{estate}{rng.integers(1, 30)}栋{unit}{room}室"
        )

    def office(self, district: District, rng: Rng) -> str:
        tower = self.pick(self.estates, rng)
        return (
            f"{_prefix(district)}{self.pick(self.streets, rng)}{rng.integers(1, 600)}号"
            f"{tower}大厦{rng.integers(1, 40)}层"
        )


def _prefix(district: District) -> str:
    """Addresses name the province only where it differs from the city (not 北京市北京市)."""
    if district.province == district.city:
        return district.city + district.name
    return district.province + district.city + district.name


def point(district: District, rng: Rng) -> tuple[str, str]:
    """(lat, lng) around the district centroid, or blanks for the geocoder to fill."""
    if rng.random() < NO_COORDINATES:
        return "", ""
    lat = district.lat + rng.normal(0.0, SCATTER_KM / KM_PER_DEGREE)
    lng = district.lng + rng.normal(0.0, SCATTER_KM / (KM_PER_DEGREE * math.cos(math.radians(lat))))
    return f"{lat:.6f}", f"{lng:.6f}"


# --- loans -------------------------------------------------------------------------------
