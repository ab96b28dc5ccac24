"""The function words the phrase rules of breaks.py look at, per language.

A subtitle should not break after a word that opens a phrase (an article, a preposition, a conjunction,
a possessive or demonstrative, an auxiliary verb, a clitic pronoun: "before the | weekend", "al |
final", "se | fue"), and breaks well before a conjunction or a preposition. These are the words of the
languages mediajobs writes subtitles in: English (transcription), and the targets of the shipped
translation pairs (Spanish, Portuguese, Galician, Catalan, French). Any other language gets the
English lists: its punctuation, name and number rules still hold.
"""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True, kw_only=True, slots=True)
class Vocabulary:
    """One language's function words (lower-case)."""

    prepositions: frozenset[str]
    conjunctions: frozenset[str]
    openers: frozenset[str]  # a break after these is mid-phrase (prepositions and conjunctions too)
    subjects: frozenset[str] = frozenset()  # subject pronouns: a break after them is poor
    pronouns: frozenset[str] = frozenset()  # other words that, capitalised, still are not names
    number_words: frozenset[str] = frozenset()  # "three hours": never apart from what they count
    # a preposition before one of these opens no phrase: it is an adverb ("stayed inside and")
    adverb_before: frozenset[str] = frozenset()
    contractions: tuple[str, ...] = ()  # endings of contracted auxiliaries ("we'll", "he's")

    @property
    def not_a_name(self) -> frozenset[str]:
        """Capitalised, these still are not names (a sentence's first word, "I")."""
        return self.openers | self.subjects | self.pronouns


_EN_PREPOSITIONS = _words(
    "about above across after against along among around at before behind below beneath beside besides "
    "between beyond by despite during except for from in inside into like near of on onto outside over "
    "past per since through throughout to toward towards under underneath until upon via with within "
    "without"
)
_EN_CONJUNCTIONS = _words(
    "and but or nor so yet because although though while whereas if unless whether when whenever where "
    "wherever than that which who whom"
)
ENGLISH = Vocabulary(
    prepositions=_EN_PREPOSITIONS,
    conjunctions=_EN_CONJUNCTIONS,
    openers=_EN_PREPOSITIONS
    | _EN_CONJUNCTIONS
    | _words(
        "a an the my your his her its our their whose every each another several "
        "am is are was were be been being have has had do does did will would shall should can could may "
        "might must ain't isn't aren't wasn't weren't haven't hasn't hadn't don't doesn't didn't won't "
        "wouldn't shan't shouldn't can't cannot couldn't mightn't mustn't not very"
    ),
    subjects=_words("i we they he she"),
    pronouns=_words("i'm i'll i've i'd you it"),
    number_words=_words(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
        "hundred thousand million billion dozen half"
    ),
    adverb_before=_EN_PREPOSITIONS | _words("and or but so because while when"),
    contractions=tuple(f"{mark}{end}" for mark in "'\u2019" for end in ("s", "re", "ve", "ll", "d", "m")),
)

_ES_PREPOSITIONS = _words(
    "a ante bajo con contra de desde durante en entre hacia hasta mediante para por según sin sobre tras"
)
_ES_CONJUNCTIONS = _words("y e o u ni pero sino que porque aunque si cuando mientras como donde pues")
SPANISH = Vocabulary(
    prepositions=_ES_PREPOSITIONS,
    conjunctions=_ES_CONJUNCTIONS,
    openers=_ES_PREPOSITIONS
    | _ES_CONJUNCTIONS
    | _words(
        "el la los las un una unos unas lo al del mi mis tu tus su sus nuestro nuestra nuestros nuestras "
        "vuestro vuestra vuestros vuestras este esta estos estas ese esa esos esas aquel aquella aquellos "
        "aquellas cada otro otra otros otras todo toda todos todas cualquier varios varias algún alguna "
        "algunos algunas ningún ninguna me te se nos os le les he has ha hemos habéis han había habían "
        "habrá habría haya hayan es son era eran fue fueron será sería está están estaba estaban puede "
        "pueden podría podrían debe deben va van iba iban no muy más tan"
    ),
    subjects=_words("yo tú él ella nosotros nosotras ellos ellas usted ustedes"),
    number_words=_words(
        "uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince veinte "
        "treinta cuarenta cincuenta sesenta setenta ochenta noventa cien ciento mil millón millones "
        "docena media"
    ),
)

_PT_PREPOSITIONS = _words(
    "a ante após até com contra de desde durante em entre para perante por sem sob sobre"
)
_PT_CONJUNCTIONS = _words("e ou nem mas porém que porque embora se quando enquanto como onde pois")
PORTUGUESE = Vocabulary(
    prepositions=_PT_PREPOSITIONS,
    conjunctions=_PT_CONJUNCTIONS,
    openers=_PT_PREPOSITIONS
    | _PT_CONJUNCTIONS
    | _words(
        "o os as um uma uns umas ao aos à às do da dos das no na nos nas num numa pelo pela pelos pelas "
        "meu minha meus minhas teu tua teus tuas seu sua seus suas nosso nossa nossos nossas este esta "
        "estes estas esse essa esses essas aquele aquela aqueles aquelas cada outro outra outros outras "
        "todo toda todos todas vários várias algum alguma alguns algumas nenhum nenhuma me te lhe lhes "
        "tem têm tinha tinham há havia é são era eram foi foram será seria está estão estava estavam "
        "pode podem poderia deve devem vai vão ia iam não muito mais tão"
    ),
    subjects=_words("eu tu ele ela nós eles elas você vocês"),
    number_words=_words(
        "um dois duas três quatro cinco seis sete oito nove dez onze doze vinte trinta quarenta "
        "cinquenta cem cento mil milhão milhões dúzia meia"
    ),
)

_GL_PREPOSITIONS = _words("a ante ata con contra de desde durante en entre para por sen sobre tras")
_GL_CONJUNCTIONS = _words("e ou nin pero mais que porque aínda se cando mentres como onde pois")
GALICIAN = Vocabulary(
    prepositions=_GL_PREPOSITIONS,
    conjunctions=_GL_CONJUNCTIONS,
    openers=_GL_PREPOSITIONS
    | _GL_CONJUNCTIONS
    | _words(
        "o os as un unha uns unhas ao á aos ás do da dos das no na nos nas polo pola polos polas nun "
        "nunha meu miña meus miñas teu túa teus túas seu súa seus súas noso nosa nosos nosas este esta "
        "estes estas ese esa eses esas aquel aquela aqueles aquelas cada outro outra outros outras todo "
        "toda todos todas me te lle lles ten teñen tiña había é son era foi foron será está están estaba "
        "pode poden vai van non moi máis tan"
    ),
    subjects=_words("eu ti el ela nós eles elas vostede vostedes"),
    number_words=_words(
        "un dous dúas tres catro cinco seis sete oito nove dez once doce vinte trinta cen mil"
    ),
)

_CA_PREPOSITIONS = _words("a amb contra de des durant en entre fins per sense sobre cap")
_CA_CONJUNCTIONS = _words("i o ni però sinó que perquè encara si quan mentre com on")
CATALAN = Vocabulary(
    prepositions=_CA_PREPOSITIONS,
    conjunctions=_CA_CONJUNCTIONS,
    openers=_CA_PREPOSITIONS
    | _CA_CONJUNCTIONS
    | _words(
        "el la els les un una uns unes al als del dels pel pels meu meva meus meves teu teva seu seva "
        "seus seves nostre nostra nostres aquest aquesta aquests aquestes aquell aquella aquells aquelles "
        "cada altre altra altres tot tota tots totes em et es ens us li ho ha han he hem havia havien és "
        "són era eren va van ser serà està estan pot poden no molt més tan"
    ),
    subjects=_words("jo tu ell ella nosaltres vosaltres ells elles vostè vostès"),
    number_words=_words("un dos tres quatre cinc sis set vuit nou deu onze dotze vint trenta cent mil"),
)

_FR_PREPOSITIONS = _words(
    "à après avant avec chez contre dans de depuis derrière devant en entre envers par parmi pendant pour "
    "sans sous sur vers"
)
_FR_CONJUNCTIONS = _words("et ou ni mais car donc que qui quand lorsque puisque comme si")
FRENCH = Vocabulary(
    prepositions=_FR_PREPOSITIONS,
    conjunctions=_FR_CONJUNCTIONS,
    openers=_FR_PREPOSITIONS
    | _FR_CONJUNCTIONS
    | _words(
        "le la les un une des du au aux mon ma mes ton ta tes son sa ses notre nos votre vos leur leurs "
        "ce cet cette ces chaque autre autres tout toute tous toutes plusieurs quelques aucun aucune me "
        "te se lui y en ne ai as a avons avez ont avait avaient est sont était étaient être sera serait "
        "peut peuvent doit doivent va vont très plus"
    ),
    subjects=_words("je tu il elle on nous vous ils elles"),
    number_words=_words(
        "un deux trois quatre cinq six sept huit neuf dix onze douze vingt trente quarante cinquante "
        "cent mille million millions douzaine"
    ),
)

LANGUAGES: dict[str, Vocabulary] = {
    "en": ENGLISH,
    "es": SPANISH,
    "pt": PORTUGUESE,
    "gl": GALICIAN,
    "ca": CATALAN,
    "fr": FRENCH,
}


def vocabulary(language: str | None) -> Vocabulary:
    """The function words of `language` (a code such as `es` or `pt-BR`); English for any other."""
    return LANGUAGES.get((language or "en").split("-", 1)[0].lower(), ENGLISH)


__all__ = ["ENGLISH", "LANGUAGES", "Vocabulary", "vocabulary"]
