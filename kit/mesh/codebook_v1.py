"""Text codebook v1, shipped on every kit: the words, phrases and the corpus that weights them.

FROZEN: kits decode each other's texts with the Huffman code built from this file, so any
edit changes the wire format. Add words in a codebook_v2 and bump the wire version instead
(tests/test_mesh_textpack.py pins a fingerprint of the resulting code).

The corpus is written in the register of French municipal crisis traffic (shelters, roads,
networks, check-ins, needs). It only sets the symbol weights; the benchmark texts in
bench/mesh_codec.py are separate, so the measured gain is not measured on the training text.
"""

# Single characters with their own code; anything else goes through an escape (21 bits).
ALPHABET = (
    " abcdefghijklmnopqrstuvwxyz"
    "éèêëàâäîïôöùûüçœæÿ"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÉÈÊÀÂÎÔÛÇ"
    "0123456789"
    ".,;:!?'’\"-–—()/%+=*#@&_°€«»\n…"
)

# Frequent words and phrases of crisis French. The encoder picks the cheapest split of a
# text into these and single characters, so an entry never makes a text longer.
WORDS = (
    # function words
    "le", "la", "les", "l'", "un", "une", "des", "du", "de", "d'", "et", "ou", "à", "au", "aux",
    "en", "dans", "sur", "sous", "par", "pour", "avec", "sans", "chez", "vers", "entre", "depuis",
    "pas", "ne", "n'", "plus", "très", "tout", "tous", "toutes", "encore", "déjà", "bien",
    "est", "sont", "a", "ont", "il", "elle", "ils", "nous", "vous", "on", "je", "j'", "suis",
    "qui", "que", "qu'", "ce", "cette", "ces", "se", "s'", "son", "sa", "ses", "leur", "leurs",
    "mon", "ma", "mes", "notre", "nos", "votre", "vos", "c'est", "il y a", "y",
    "si", "mais", "donc", "car", "aussi", "après", "avant", "jusqu'à", "demain", "ce soir",
    "aujourd'hui", "maintenant", "heures", "minutes", "matin", "soir", "nuit",
    # verbs
    "faut", "besoin", "besoin de", "avons", "avez", "peut", "peuvent", "merci", "attention",
    "rester", "restez", "reste", "évacuer", "évacuez", "évacuation", "éviter", "évitez",
    "fermé", "fermée", "fermés", "ouvert", "ouverte", "ouverts", "complet", "coupé", "coupée",
    "coupés", "inondé", "inondée", "inondés", "bloqué", "bloquée", "signalé", "signalée",
    "arrivé", "arrivée", "parti", "partie", "prévu", "prévue", "demandé", "demande",
    "accueil", "accueillir", "envoyer", "envoyé", "apporter", "aider", "aide", "recherche",
    "cherche", "disponible", "disponibles", "nécessaire", "urgent", "urgente", "urgence",
    "en cours", "sur place", "en attente", "hors service",
    # crisis nouns
    "mairie", "commune", "quartier", "rue", "route", "chemin", "avenue", "place", "pont", "rond-point",
    "centre", "salle", "gymnase", "école", "église", "stade", "parking", "camping", "ehpad",
    "hébergement", "centre d'hébergement", "point d'eau", "point de rassemblement", "abri",
    "eau", "eau potable", "électricité", "courant", "réseau", "téléphone", "internet", "gaz",
    "inondation", "crue", "pluie", "orage", "vent", "tempête", "incendie", "feu", "fumée",
    "arbre", "arbres", "chute", "chaussée", "boue", "glissement", "effondrement", "toit",
    "voiture", "véhicule", "véhicules", "bus", "camion", "pompiers", "gendarmerie", "police",
    "secours", "samu", "médecin", "infirmier", "infirmière", "pharmacie", "médicaments",
    "blessé", "blessés", "blessée", "personne", "personnes", "personnes âgées", "enfant",
    "enfants", "famille", "familles", "habitants", "bénévole", "bénévoles", "voisin", "voisins",
    "repas", "nourriture", "couvertures", "lits", "matelas", "vêtements", "bouteilles",
    "groupe électrogène", "carburant", "essence", "batterie", "lampe", "radio",
    "niveau", "niveau de l'eau", "monte", "baisse", "stable", "situation", "information",
    "consignes", "consigne", "alerte", "vigilance", "rouge", "orange", "jaune", "préfecture",
    "exercice", "message", "nouvelles", "sain et sauf", "saine et sauve", "je vais bien",
    "nous allons bien", "tout va bien", "en sécurité", "chez moi", "chez des proches", "hôpital",
    "capacité", "places", "place", "libre", "libres", "nombre", "environ", "moins", "beaucoup",
    "pour le moment", "dès que possible", "de la", "de l'", "à la", "dans la", "sur la",
    "ment", "tion", "ées", "ent", "ant", "eur", "ir", "er", "es", "re", "ou", "on", "an",
)

# Sample traffic used only to weight the code (never sent, never benchmarked).
CORPUS = (
    "Centre d'hébergement du gymnase ouvert, 45 personnes accueillies, il reste 30 places.",
    "Route de la Gare coupée au niveau du pont, eau sur la chaussée, éviter le secteur.",
    "Besoin de couvertures et de lits pour la salle des fêtes, arrivée de 20 familles ce soir.",
    "Je vais bien, je suis chez des proches à Montpellier. Merci de prévenir ma sœur.",
    "Arbre tombé sur la route départementale, circulation impossible dans les deux sens.",
    "Plus d'électricité dans le quartier des Vignes depuis 14 h, groupe électrogène demandé.",
    "Eau potable: distribution de bouteilles à la mairie de 9 h à 12 h.",
    "Niveau de l'eau en hausse rue du Moulin, les habitants sont invités à monter à l'étage.",
    "Nous allons bien, toute la famille est à l'abri au centre d'hébergement.",
    "Personne âgée isolée au 12 rue des Écoles, sans chauffage, besoin d'une visite.",
    "Offre: je peux héberger 4 personnes, chambre libre et repas chauds.",
    "Cherche bénévoles avec tronçonneuse pour dégager le chemin des Crêtes.",
    "Pharmacie de garde fermée, médicaments urgents à demander au poste de secours.",
    "Évacuation en cours du camping des Iles, bus prévu à 16 h devant l'école.",
    "Le pont de la Rivière est fermé jusqu'à nouvel ordre, déviation par la RD 12.",
    "Incendie maîtrisé près du stade, fumée encore visible, restez à l'intérieur.",
    "Glissement de terrain signalé chemin de la Croix, deux maisons menacées.",
    "Réseau téléphonique hors service sur tout le village, utilisez la radio de la mairie.",
    "Les enfants de l'école sont en sécurité dans le gymnase, les parents peuvent venir.",
    "Besoin urgent d'un médecin à la salle polyvalente, une personne blessée à la jambe.",
    "Tout va bien chez nous, pas de dégâts, nous restons à la maison.",
    "Distribution de repas à 19 h au centre d'accueil, apportez vos couvertures.",
    "Vigilance rouge crues: ne pas prendre sa voiture, ne pas aller chercher les enfants.",
    "Carburant disponible pour les véhicules de secours uniquement, station de la place.",
    "Personnes à mobilité réduite: signalez-vous à la mairie, une équipe passera.",
    "Toit endommagé par la tempête, bâche nécessaire, 3 personnes dont un bébé.",
    "Merci aux bénévoles, situation stable cette nuit, prochain point demain matin 8 h.",
    "Eau boueuse au robinet, ne pas boire l'eau du réseau avant nouvel avis.",
    "Coupure de gaz préventive dans le centre bourg, ne rien rallumer.",
    "Je suis sain et sauf, à l'hôpital pour une entorse, je rappelle dès que possible.",
    "Le centre d'hébergement est complet, orientation vers la salle des sports.",
    "Pompiers sur place rue Victor Hugo, cave inondée, pas de blessé.",
    "On a besoin de sacs de sable et de pelles à l'entrée du lotissement.",
    "Chute de lignes électriques avenue de la République, ne pas approcher.",
    "Les voisins du 5 sont partis chez leur fille, maison vide et fermée.",
    "Exercice: ceci est un message d'exercice, aucune action réelle demandée.",
    "Point de rassemblement sur le parking du supermarché, bus toutes les 30 minutes.",
    "La crue baisse lentement, retour possible dans les maisons demain après-midi.",
    "Besoin de matelas, de vêtements chauds pour enfants et de lait infantile.",
    "Quelqu'un a des nouvelles de Madame Martin, 87 ans, rue de l'Église ?",
    "Orage violent prévu ce soir, rentrez les objets, évitez les déplacements.",
    "Station de pompage à l'arrêt, eau coupée sur la commune jusqu'à ce soir.",
    "Le gymnase accueille aussi les animaux de compagnie en cage.",
    "Famille Durand en sécurité chez des amis, ne pas s'inquiéter.",
    "Inondation du sous-sol de l'EHPAD, résidents montés au premier étage, tout va bien.",
    "Recherche personne disparue: homme 45 ans, veste rouge, vu près du canal.",
    "Accès au village uniquement par le nord, route du Sud sous 50 cm d'eau.",
    "Batteries et lampes disponibles à la mairie pour les personnes sans électricité.",
    "Offre de transport: minibus 8 places disponible pour évacuer les personnes âgées.",
    "Attention: fausse information, la digue n'a pas cédé, suivez les consignes officielles.",
)
