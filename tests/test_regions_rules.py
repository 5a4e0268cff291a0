"""The region classifier on real-text patterns (issue 14): localities, persons named like
towns, quarters named after other towns, namesakes outside Saxony, written forms,
datelines, state institutions, and unresolved names flagged for a check.

Made-up sentences in the style of Saxon police releases and local news; each kind has
positive and negative cases. Locality names are ones the packaged open locality list
holds (and any fuller list keeps)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newsletter.regions import classify, load_gazetteer
from tests.test_cli_collect import _run, config_file

__all__ = ["config_file"]  # the CLI fixture, shared with test_cli_collect

LN, CH, OS, ZW, DD = "leipzig-nordsachsen", "chemnitz", "ostsachsen", "zwickau", "dresden"


def regions(text: str) -> list[str]:
    return sorted(classify(text, load_gazetteer()).regions)


# --- 1. localities below the municipality --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Feuer in Eibau: Scheune brennt nieder.", [OS]),
        ("Einbruch bei Hirschfelde, die Polizei sucht Zeugen.", [OS]),
        ("Wohnungsbrand im OT Klotzsche.", [DD]),
        ("In Klotzsche wurde ein Fahrrad gestohlen.", [DD]),
        ("Klotzsches Ortschaftsrat berät über Videoschutz.", [DD]),
        ("In Sellerhausen-Stünz brannten zwei Mülltonnen.", [LN]),
        ("In Dresden-Klotzsche wurde eingebrochen.", [DD]),
        ("Im Ortsteil Striesen wurde ein Auto aufgebrochen.", [DD]),
        ("Rittersgrün, ein Ortsteil von Breitenbrunn, lädt zum Präventionstag.", [CH]),
    ],
)
def test_localities_count_as_their_municipality(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


def test_locality_match_is_keyed_by_its_municipality() -> None:
    result = classify("Feuer in Eibau.", load_gazetteer())
    assert [(m.phrase, m.kind, m.key) for m in result.matches] == [
        ("Eibau", "locality", "14626245")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Im Zentrum der Stadt wurde ein Auto aufgebrochen.",  # common word, no locality
        "Die Siedlung am See wird saniert.",
        "Neudorf lädt zum Fest.",  # shared and common: needs a cue
        "Das Linda-Konzert fällt aus.",
        "Sosa ist ein Nachname.",  # short name without cue
    ],
)
def test_risky_localities_need_a_cue(text: str) -> None:
    assert regions(text) == []


def test_risky_locality_counts_after_a_cue() -> None:
    assert regions("Einbruch in Sosa: Täter flüchtig.") == [CH]


# --- 2. people named like towns -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Der Landtagsabgeordnete Thomas Colditz sprach über Prävention.",
        "T. Colditz hält einen Vortrag über Einbruchschutz.",
        "Bürgermeister Bernd Kamenz eröffnete das Fest.",
        "Polizeisprecher Kai Pirna bestätigte den Vorfall.",
        "Die Abgeordnete Anja Meißner fordert mehr Streifen.",
    ],
)
def test_people_named_like_towns(text: str) -> None:
    assert regions(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Der Transporter fuhr nach Colditz.",
        "In Colditz wurde eingebrochen.",
        "Die Stadt Colditz lädt zum Präventionstag.",
        "Bürgermeister Colditz' Rathaus bleibt geschlossen.",
    ],
)
def test_towns_after_cues_stay_places(text: str) -> None:
    assert regions(text) == [LN]


# --- 3. quarters and streets named after other towns -----------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In der Leipziger Vorstadt wurde ein Auto aufgebrochen.", [DD]),
        ("In Dresden-Leipziger Vorstadt brannte ein Keller.", [DD]),
        ("Die Radeberger Vorstadt bekommt mehr Streifen.", [DD]),
        ("Am Chemnitzer Tor in Freiberg wurde ein Rad gestohlen.", [CH]),
        ("Unfall an der Dresdner Brücke in Riesa.", [DD]),
        ("Im Pirnaer Viertel in Heidenau wurde eingebrochen.", [DD]),
        ("Am Dresdner Bahnhof in Leipzig wurde ein Koffer gestohlen.", [LN]),
    ],
)
def test_quarters_named_after_other_towns(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


def test_town_adjective_without_quarter_noun_still_counts() -> None:
    assert regions("Der Leipziger Hauptbahnhof wird videoüberwacht.") == [LN]
    assert regions("Die Pirnaer Feuerwehr löschte einen Brand.") == [DD]


# --- 4. namesakes outside Saxony ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Polizeipräsidium Ludwigsburg: Einbrüche in Freiberg und Marbach.",
        "Die Polizeiinspektion Rosenheim meldet einen Unfall bei Wildenfels.",
        "Im Landkreis Ludwigsburg wurde in Freiberg ein Auto gestohlen.",
        "Baden-Württemberg: In Bernsdorf wurde ein Traktor gestohlen.",
        "Einbruch in Aue. Die Polizei in Bayern bittet um Hinweise.",
    ],
)
def test_namesakes_outside_saxony(text: str) -> None:
    assert regions(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Die Polizeidirektion Chemnitz meldet Einbrüche in Freiberg.", [CH]),
        ("Polizeipräsidium Oberfranken und sächsische Polizei kontrollieren in Plauen.", [ZW]),
        ("In Freiberg wurde eingebrochen. Der Täter stammt aus Bayern.", [CH]),
        ("Im Landkreis Bautzen wurde in Kamenz ein Auto gestohlen.", [OS]),
    ],
)
def test_saxon_places_beside_foreign_words(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


# --- 5. written forms and heading words -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In Hohenstein Ernstthal wurde eingebrochen.", [ZW]),
        ("Unfall in Limbach-O. mit zwei Verletzten.", [ZW]),
        ("Reichenbach/V.: Fahrraddiebe gefasst.", [ZW]),
        ("In Thalheim wurde ein Auto gestohlen.", [CH]),
        ("Wachau. Autodiebe haben in der Nacht zugeschlagen.", [OS]),
        ("Werda – Unbekannte haben einen Zigarettenautomaten gesprengt.", [ZW]),
        ("Aue: Polizei sucht Zeugen eines Unfalls.", [CH]),
    ],
)
def test_written_forms_and_heading_places(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Wachau liegt in Niederösterreich.",
        "Thalheim lädt ein.",
        "Aue unterliegt im Derby.",
    ],
)
def test_risky_names_without_heading_or_cue_stay_out(text: str) -> None:
    assert regions(text) == []


# --- dateline policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dresden (dpa) – Der Landtag berät über das Polizeigesetz.", []),
        ("LEIPZIG. Die Zahl der Wohnungseinbrüche ist gesunken.", []),
        ("Görlitz/Zittau – Die Grenzpolizei zieht Bilanz.", []),
        ("Dresden (dpa) – In Pirna wurde ein Geldautomat gesprengt.", [DD]),
        ("Leipzig (epd) – In Zwickau wurde eingebrochen.", [ZW]),
        ("LEIPZIG. Im Leipziger Zoo wurde eingebrochen.", [LN]),
        ("Plauen (ots) – Einbruch in eine Gartenlaube.", [ZW]),
        ("Pirna – Unbekannte beschädigen Autos.", [DD]),
        ("MEISSEN: Polizei warnt vor Trickdieben", [DD]),
    ],
)
def test_datelines_make_no_region_heading_places_do(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dresden (dpa/sn) - Der Landtag berät über Videoschutz.", []),
        ("Chemnitz (dpa / lsn) – Die Zahl der Taschendiebstähle sinkt.", []),
        ("Leipzig (epd/KNA) - In Torgau wurde eingebrochen.", [LN]),
        ("Dresden – Die Zahl der Einbrüche in Sachsen ist gesunken.", []),
        ("Dresden - Der Sächsische Landtag debattiert über Einbrüche in Grimma.", [LN]),
        ("Dresden – Innenministerin Maier stellt die Bilanz des Freistaats vor.", []),
        ("Dresden – Die Kriminalstatistik zeigt weniger Autodiebstähle.", []),
    ],
)
def test_agency_lists_and_state_leads_are_datelines(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zwickau (ots) - Unbekannte brachen in eine Gartenlaube ein.", [ZW]),
        ("Leipzig (dpa/ots) - Ein Transporter wurde gestohlen.", [LN]),  # not all agencies
        ("Werdau – Unbekannte brachen in der Nacht in ein Vereinsheim ein.", [ZW]),
        ("Pirna – Einbruch in Gartenlaube. Die Polizei in Sachsen warnt.", [DD]),  # lead only
        ("Dresden: Die Zahl der Einbrüche in Sachsen ist gesunken.", [DD]),  # no dash
        ("Grimma – Der Innenminister besuchte am Montag das Revier.", [LN]),  # not the seat
        ("Chemnitz – Die Kriminalstatistik zeigt weniger Autodiebstähle.", [CH]),
    ],
)
def test_police_headings_stay_places(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


# --- statements made at the seat ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Die Fallzahlen steigen, sagte der Innenminister heute in Dresden.",
        "Die Polizei erfasste mehr Straftaten, teilten Innenministerium und"
        " Landeskriminalamt am Dienstag in Dresden mit.",
        "Staatssekretärin Kühn warb für mehr Prävention. Das sei nötig, sagte sie in Dresden.",
        "Die Justizministerin stellte am Montag in Dresden den Bericht vor.",
        "Der Regierungssprecher erklärte in Dresden, das Kabinett habe entschieden.",
    ],
)
def test_state_speakers_at_the_seat_name_no_region(text: str) -> None:
    assert regions(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Das Fest war ein Erfolg, sagte der Bürgermeister heute in Dresden.", [DD]),
        ("Die Innenministerin eröffnete in Dresden ein neues Polizeirevier.", [DD]),
        ("Die Zahl sinkt, sagte der Innenminister heute in Pirna.", [DD]),
        ("Der Innenminister sagte, in Dresden werde eingebrochen.\n\nEin Zeuge sagte"
         " in Dresden aus.", [DD]),
        ("Die Fallzahlen steigen, sagte der Innenminister in Leipzig.", [LN]),
    ],
)  # fmt: skip
def test_other_speakers_places_and_seats_stay_places(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


# --- state institutions -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Der Landtag in Dresden beschloss ein neues Polizeigesetz.",
        "Die Dresdner Staatskanzlei lädt zum Empfang.",
        "Das Sächsische Oberverwaltungsgericht in Bautzen hat entschieden.",
        "Das Landeskriminalamt Sachsen in Dresden warnt vor Phishing.",
        "Der Verfassungsgerichtshof in Leipzig verhandelt die Klage.",
        "Das Landesarbeitsgericht Chemnitz hat die Kündigung bestätigt.",
        "Das Staatsministerium des Innern in Dresden stellt die Statistik vor.",
        "Das Landesamt für Verfassungsschutz in Dresden warnt.",
    ],
)
def test_state_institutions_are_statewide(text: str) -> None:
    assert regions(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Die Fachtagung des Landespräventionsrates findet im Flughafen Dresden statt.", [DD]),
        ("Die Staatsministerin besuchte eine Schule in Pirna.", [DD]),
        ("Der Landtag debattierte über Einbrüche in Leipzig.", [LN]),
        ("Das LKA warnt: In Görlitz sind falsche Handwerker unterwegs.", [OS]),
    ],
)
def test_events_in_a_city_belong_to_it(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


# --- 6. a locality sharing its name with a municipality elsewhere ----------------------


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("Gersdorf, ein Ortsteil von Hartha, feiert sein Dorffest.", [CH], "locality"),
        ("In Hartha, OT Gersdorf, brannte eine Scheune.", [CH], "locality"),
        ("In Gersdorf bei Hohenstein-Ernstthal brannte eine Scheune.", [ZW], "municipality"),
        ("In der Gemeinde Gersdorf brannte eine Scheune.", [ZW], "municipality"),
    ],
)
def test_locality_named_with_its_municipality_wins(
    text: str, expected: list[str], kind: str
) -> None:
    result = classify(text, load_gazetteer())
    assert sorted(result.regions) == expected
    assert kind in {m.kind for m in result.matches if m.phrase == "Gersdorf"}
    assert not result.needs_check


# --- motorway routes and directions ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BAB 4, Görlitz - Dresden, bei Weißenberg: Lkw-Fahrer ohne Führerschein.", [OS]),
        ("A 72 Hof – Leipzig, zwischen Stollberg und Chemnitz: Auffahrunfall.", [CH]),
        ("Bundesautobahn 14, Leipzig – Dresden, Anschlussstelle Grimma: Stau.", [LN]),
        ("BAB 4, Richtungsfahrbahn Dresden - Görlitz, Anschlussstelle Pulsnitz: Unfall.", [OS]),
        ("Auf der A 4 in Richtung Dresden kam es bei Bautzen zu einem Unfall.", [OS]),
        ("In Fahrtrichtung Görlitz wurde bei Wilsdruff ein Transporter gestoppt.", [DD]),
        ("Aus Richtung Plauen kam bei Grimma ein Radfahrer.", [LN]),
    ],
)
def test_route_ends_and_directions_name_no_region(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Auf der Bundesstraße wurde ein Motorrad in Richtung Meißen übersehen.", [DD]),
        ("Auerbach: Ein Transporter kam aus Richtung Klingenthal.", [ZW]),  # resolves
        ("Auf der A 4 zwischen Dresden und Bautzen war die Fahrbahn gesperrt.", [DD, OS]),
        ("Die Autobahn 72 wird bei Zwickau erneuert, sagte die Stadt Plauen.", [ZW]),
        ("Der Zug aus Leipzig hielt in Riesa.", [DD, LN]),
    ],
)
def test_route_and_direction_names_count_when_nothing_else_does(
    text: str, expected: list[str]
) -> None:
    assert regions(text) == expected


# --- parts: »X, OT Y«, »Xer Ortsteil Y«, »X-Y« ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Chemnitz, OT Bernsdorf: Wahlplakate abgerissen.", [CH]),  # Bernsdorf elsewhere
        ("Zwickau, Ortsteil Markersdorf: Einbruch in Garage.", [ZW]),  # unknown part
        ("Im Chemnitzer Ortsteil Markersdorf wurde ein Auto gestohlen.", [CH]),
        ("Im Dresdner Stadtteil Plauen wurde ein Rad gestohlen.", [DD]),
        ("Bernsdorf, ein Ortsteil von Chemnitz, feiert sein Straßenfest.", [CH]),
        ("Chemnitz, OT Zentrum: Graffiti am Rathaus.", [CH]),  # generic word adds nothing
    ],
)
def test_a_part_counts_as_its_whole(text: str, expected: list[str]) -> None:
    result = classify(text, load_gazetteer())
    assert sorted(result.regions) == expected
    assert not result.needs_check


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pöhl, OT Möschwitz: Bungalow abgebrannt.", [ZW]),  # risky name before its part
        ("Werda, Ortsteil Kottengrün: Scheune brennt.", [ZW]),
        ("Pöhl wurde gelobt.", []),  # no cue
        ("Pöhl, der Kapitän, ist verletzt.", []),
        ("Pöhl, OT-Leiter der Wehr, ist verletzt.", []),  # »OT-« is no part structure
        ("Chemnitz, Bernsdorf und Plauen laden ein.", [CH, ZW]),  # a list, no part
    ],
)
def test_the_part_structure_is_a_cue_for_the_whole(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("Dresden-Plauen: Ein Kind wurde angesprochen.", "Dresden", [DD]),  # Plauen: a quarter
        ("In Leipzig-Gohlis brannte ein Auto.", "Leipzig", [LN]),  # a listed locality
        ("In Chemnitz-Bernsdorf wurde eingebrochen.", "Chemnitz", [CH]),  # Bernsdorf: a quarter
        ("In Hohenstein-Ernstthal wurde eingebrochen.", "Hohenstein-Ernstthal", [ZW]),
        ("In Annaberg-Buchholz brannte ein Carport.", "Annaberg-Buchholz", [CH]),
        ("In Ebersbach-Neugersdorf brannte ein Carport.", "Ebersbach-Neugersdorf", [OS]),
        ("Die S-Bahn-Linie Dresden-Meißen fährt wieder.", "Dresden", [DD]),
        ("Die ICE-Strecke Leipzig-Plauen wird gebaut.", "Leipzig", [LN, ZW]),
    ],
)
def test_quarter_after_a_city_double_names_and_routes(
    text: str, phrase: str, expected: list[str]
) -> None:
    result = classify(text, load_gazetteer())
    assert sorted(result.regions) == expected
    assert result.matches[0].phrase == phrase
    assert not result.needs_check


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Diebe zogen durch die Ortslage Sosa.", [CH]),  # risky locality after a cue
        ("Einbruch im Ortsteil Wiesa.", [CH]),
        ("Wiesa lädt ein.", []),
        ("Feuer im OT Sosa.", [CH]),
        ("Sosa ist ein Nachname.", []),
        ("Diebe zogen durch die Ortslage Quxdorf.", []),  # unknown stays unknown
    ],
)
def test_locality_cues(text: str, expected: list[str]) -> None:
    assert regions(text) == expected


# --- 7. unresolved ambiguity: union and check --------------------------------------------


def test_unresolved_name_gives_union_and_check() -> None:
    result = classify("In Bernsdorf wurde ein Auto gestohlen.", load_gazetteer())
    assert result.regions == {OS, ZW}
    assert result.needs_check
    assert result.to_dict()["check"] is True
    assert [a.phrase for a in result.ambiguous] == ["Bernsdorf"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In Bernsdorf bei Hoyerswerda wurde ein Auto gestohlen.", [OS]),
        ("In Auerbach wurde eingebrochen, die PD Zwickau ermittelt.", [ZW]),
        ("Bernsdorf: Das Polizeirevier Kamenz sucht Zeugen.", [OS]),
    ],
)
def test_ambiguity_resolved_by_context_needs_no_check(text: str, expected: list[str]) -> None:
    result = classify(text, load_gazetteer())
    assert sorted(result.regions) == expected
    assert not result.needs_check


def test_risky_ambiguous_name_without_cue_adds_nothing() -> None:
    result = classify("Der Hartmannsdorfer Weg wird gesperrt.", load_gazetteer())
    assert result.regions == frozenset()
    assert not result.needs_check


# --- explain shows localities and the check -----------------------------------------------


def test_explain_shows_locality_with_municipality_and_check(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(config_file, "regions", "explain", "Feuer in Eibau, Einbruch in Auerbach") == 0
    out = capsys.readouterr().out
    assert "»Eibau« → Kottmar, Ortsteil" in out
    assert "Region prüfen: »Auerbach« ist mehrdeutig (Chemnitz, Zwickau)" in out
    assert _run(config_file, "regions", "explain", "Feuer in Pirna") == 0
    assert "Region prüfen" not in capsys.readouterr().out


# --- no text takes more than linear time ---------------------------------------------------

PIECES = st.sampled_from(
    [
        "Dresden", "Dresden-", "Leipziger ", "Bernsdorf", "Gersdorf, ein Ortsteil von ",
        "OT ", "Aue", "Neudorf", " (dpa) – ", "LEIPZIG. ", "/", "-", " ", "  ", "\n", "\n\n",
        ". ", ", ", ": ", " – ", "(", ")", "Landtag in ", "Polizeipräsidium Ludwigsburg ",
        "Bayern ", "Thomas ", "T. ", "in ", "bei ", "der ", "Straße ", "Klotzsche",
        "Sellerhausen-Stünz", "Hohenstein Ernstthal", "x", "Sachsen",
    ]
)  # fmt: skip


def _fastest(text: str, loops: int, runs: int = 5) -> float:
    """The least CPU time of ``runs`` times ``loops`` classifications (CPU time: other
    load on the machine does not count)."""
    gazetteer = load_gazetteer()
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for _ in range(loops):
            classify(text, gazetteer)
        best = min(best, time.process_time() - started)
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, min_size=1, max_size=30))
@example(["Dresden", " ", "Klotzsche", ", ", "Bernsdorf", ". ", "Bayern "])
@example(["\n", "Dresden", " (dpa) – ", "Aue", "/", "Landtag in ", "Dresden"])
def test_classification_time_grows_linearly(pieces: list[str]) -> None:
    unit = "".join(pieces)
    # 8 times the text: linear is 8x (measured 7.6-9.7), quadratic up to 64x; a copy of
    # the text per hit (text[:start]) already gives 12.8
    small = unit * max(1, 40_000 // len(unit))
    once = max(_fastest(small, 1, runs=1), 1e-6)
    loops = max(1, round(0.005 / once))  # at least ~5 ms, so the clock does not decide
    # The least of up to three measurements: a busy machine can slow one of them down,
    # not all three, while a text that really takes more than linear time stays over.
    ratio = float("inf")
    for _ in range(3):
        ratio = min(ratio, _fastest(small * 8, loops) / _fastest(small, loops))
        if ratio < 12:
            break
    assert ratio < 12, f"time(8n)/time(n) = {ratio:.1f} for {unit!r}"
