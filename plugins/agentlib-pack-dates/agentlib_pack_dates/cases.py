"""The tests shipped with each function: `assert` statements, judged in agentlib's sandbox."""

TESTS: dict[str, list[str]] = {
    "parse_date": [
        'assert parse_date("2024-03-05") == "2024-03-05"',
        'assert parse_date("03/05/2024") == "2024-03-05"',
        'assert parse_date("05.03.2024") == "2024-03-05"',
        'assert parse_date("20240305") == "2024-03-05"',
        'assert parse_date("5 March 2024") == "2024-03-05"',
        'assert parse_date("March 5, 2024") == "2024-03-05"',
    ],
    "format_date": [
        'assert format_date("2024-03-05", "us") == "03/05/2024"',
        'assert format_date("2024-03-05", "eu") == "05.03.2024"',
        'assert format_date("2024-03-05", "compact") == "20240305"',
        'assert format_date("2024-03-05", "long") == "5 March 2024"',
        'assert format_date("2024-03-05", "iso") == "2024-03-05"',
    ],
    "add_days": [
        'assert add_days("2024-02-28", 1) == "2024-02-29"',
        'assert add_days("2023-12-31", 1) == "2024-01-01"',
        'assert add_days("2024-03-01", -1) == "2024-02-29"',
        'assert add_days("2024-01-15", 0) == "2024-01-15"',
    ],
    "days_between": [
        'assert days_between("2024-01-01", "2024-12-31") == 365',
        'assert days_between("2023-01-01", "2024-01-01") == 365',
        'assert days_between("2024-03-10", "2024-03-01") == -9',
    ],
    "weekday_name": [
        'assert weekday_name("2024-03-04") == "Monday"',
        'assert weekday_name("2000-01-01") == "Saturday"',
        'assert weekday_name("2024-12-25") == "Wednesday"',
    ],
    "is_weekend": [
        'assert is_weekend("2024-03-09") is True',
        'assert is_weekend("2024-03-10") is True',
        'assert is_weekend("2024-03-11") is False',
    ],
    "business_days_between": [
        'assert business_days_between("2024-03-04", "2024-03-11") == 5',
        'assert business_days_between("2024-03-08", "2024-03-11") == 1',
        'assert business_days_between("2024-03-09", "2024-03-11") == 0',
        'assert business_days_between("2024-03-01", "2024-04-01") == 21',
        'assert business_days_between("2024-03-11", "2024-03-04") == -5',
    ],
    "add_business_days": [
        'assert add_business_days("2024-03-08", 1) == "2024-03-11"',
        'assert add_business_days("2024-03-04", 5) == "2024-03-11"',
        'assert add_business_days("2024-03-11", -1) == "2024-03-08"',
        'assert add_business_days("2024-03-09", 0) == "2024-03-09"',
    ],
    "is_leap_year": [
        "assert is_leap_year(2024) is True",
        "assert is_leap_year(1900) is False",
        "assert is_leap_year(2000) is True",
        "assert is_leap_year(2023) is False",
    ],
    "days_in_month": [
        "assert days_in_month(2024, 2) == 29",
        "assert days_in_month(2023, 2) == 28",
        "assert days_in_month(2024, 4) == 30",
        "assert days_in_month(2024, 12) == 31",
    ],
    "iso_week": [
        'assert iso_week("2024-01-01") == (2024, 1)',
        'assert iso_week("2021-01-03") == (2020, 53)',
        'assert iso_week("2024-12-30") == (2025, 1)',
    ],
    "day_of_year": [
        'assert day_of_year("2024-01-01") == 1',
        'assert day_of_year("2024-12-31") == 366',
        'assert day_of_year("2023-03-01") == 60',
    ],
    "quarter": [
        'assert quarter("2024-01-31") == 1',
        'assert quarter("2024-04-01") == 2',
        'assert quarter("2024-09-30") == 3',
        'assert quarter("2024-12-01") == 4',
    ],
    "end_of_month": [
        'assert end_of_month("2024-02-10") == "2024-02-29"',
        'assert end_of_month("2023-02-01") == "2023-02-28"',
        'assert end_of_month("2024-12-31") == "2024-12-31"',
    ],
    "add_months": [
        'assert add_months("2024-01-31", 1) == "2024-02-29"',
        'assert add_months("2024-11-15", 3) == "2025-02-15"',
        'assert add_months("2024-03-31", -1) == "2024-02-29"',
        'assert add_months("2024-05-10", -17) == "2022-12-10"',
    ],
    "age_on": [
        'assert age_on("2000-03-05", "2024-03-04") == 23',
        'assert age_on("2000-03-05", "2024-03-05") == 24',
        'assert age_on("2000-02-29", "2023-03-01") == 23',
    ],
    "seconds_to_hms": [
        'assert seconds_to_hms(0) == "00:00:00"',
        'assert seconds_to_hms(3723) == "01:02:03"',
        'assert seconds_to_hms(90061) == "25:01:01"',
    ],
    "hms_to_seconds": [
        'assert hms_to_seconds("01:02:03") == 3723',
        'assert hms_to_seconds("02:30") == 150',
        'assert hms_to_seconds("00:00:00") == 0',
    ],
    "unix_to_iso": [
        'assert unix_to_iso(0) == "1970-01-01T00:00:00Z"',
        'assert unix_to_iso(1700000000) == "2023-11-14T22:13:20Z"',
        'assert unix_to_iso(951782400) == "2000-02-29T00:00:00Z"',
    ],
}
