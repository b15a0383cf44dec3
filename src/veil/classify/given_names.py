"""Common given names of many cultures (folded to ASCII, lowercase), to tell person names from other words.

A value that reads `Firstname Lastname` is a person's name when its first
word is a common given name; a city, a product or a team rarely starts with
one. The list is public knowledge (frequent given names), not personal data.

>>> "maria" in GIVEN_NAMES and "london" not in GIVEN_NAMES
True
"""

from __future__ import annotations

GIVEN_NAMES = frozenset("""
aaron abdul abdullah abigail adam adrian adriana ahmed aiden aisha akira alan albert alberto alejandra alejandro
alessandro alex alexander alexandra alexandre ali alice alicia alina alisha alvaro amanda amara amelia amina amir
amit amy ana anabel anastasia andre andrea andreas andrew andrzej angel angela angelica anita ann anna anne annika
anthony antoine antonio anya arjun arthur ashley astrid aurelie ava axel ayumi barbara beatriz ben benjamin
bernard bernd betty bianca bjorn blanca brandon brian bruno camila camille carla carlos carmen carol caroline
carolina catherine cecilia celine charles charlotte chen chloe chris christian christina christine christopher
claire clara claudia colin daniel daniela daniele david deborah denis dennis derek diana diego dieter dimitri
dmitri dolores dominik donald dorothy duc dylan edward elena eli elias elif elijah elisa elisabeth elizabeth
ella ellen emil emily emma emre enrique eric erik ernesto esther ethan eva evelyn fabian fatima fatma federico
felipe felix fernanda fernando florian frances francesca francisco francois frank franz frederic gabriel
gabriela gabriele gao gary george georg gerhard giovanni giulia giuseppe gloria grace greta guillaume gunther
hana hannah hans harold harry hassan heather heinz helen helena henri henry hiroshi hugo ibrahim ines ingrid
irene isaac isabel isabella isabelle ivan jack jacob jacques jakob james jan jana jane janet jasmin jason javier
jean jennifer jens jessica jesus jia jin joan joao joaquin john jonas jonathan jordi jorge jose josef joseph
joshua juan julia julian julie julien jun jurgen justin kai kamal karen karim karin karl kate katharina
katherine kathleen kenji kevin khalid kim klaus kofi kumar kwame lara laura lauren laurent lea leah lena leo
leon leonardo lewis li lian liam lily lina linda ling linh lisa liu lorenzo louis louise luca lucas lucia
lucie lucy luis luisa lukas luke magdalena mahmoud manuel marc marcel marco marcos margaret maria mariam
marie marina mario marion mark markus marta martin martina mary mateo mathias matteo matthew matthias maurice
max maxime maximilian mehmet mei melanie melissa mia michael michel michelle miguel mike mikhail min minh
miriam mohamed mohammad mohammed monica monika mustafa nadia nam naomi natalia natalie nathalie nathan nia
nicholas nicolas nicole niklas nikolai nina noah noel nora nuno oleg olga olivia omar oscar otto pablo pamela
paola patricia patrick paul paula pedro peter philippe pierre pilar piotr pooja priya rachel rafael rahul raj
ramon raphael raquel rebecca renate rene renee ricardo richard rita robert roberto rocio roman rosa rose ruben
ruth ryan sabine sakura salma sam samantha samuel sandra sara sarah sasha sebastian sergei sergio shirley
silvia simon simone sofia sofie sophia sophie stefan stefanie stephanie stephen steven susan susanne sven
takashi tanaka tatiana teresa theo thomas tim timothy tobias tom tomas tyler ursula valentina valeria vanessa
vera veronica victor victoria vincent virginia walter wang wei werner william wolfgang xavier xin yan yasmin
yuki yusuf yves zara zhang zoe
""".split())
