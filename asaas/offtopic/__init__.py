"""Off-topic reviews: is a review about the product, part of a review bomb, and what does it
criticise or praise (the game's content, the developer or publisher, an ideology, a political
stance)?

Steam leaves "off-topic review activity" out of a game's score after its staff check a burst by
hand. asaas learns the questions from annotated incidents (``asaas train offtopic``), measures
each one honestly by leaving one incident out (train on the others, test on it), and stores a
version that answers all of them per review (``asaas score --model offtopic``, rows in
``label_predictions``). Alerts then report the share of each answer with intervals corrected for
the classifier's measured error rates (``asaas.offtopic.shares``), and timelines can set
off-topic reviews aside, as Steam's score does.

- ``data``: reading an annotated file (text, incident, yes/no labels);
- ``features``: the feature blocks (word TF-IDF, sentence embeddings, the burst itself);
- ``model``: per label, a logistic regression per block, fused by the mean of their
  standardised scores; saved as JSON and numpy arrays (no pickle);
- ``train``: the leave-one-incident-out evaluation, the final fit and its registration;
- ``scorer``: the version as the scoring engine sees it;
- ``shares``: corrected shares of a set of reviews (an alert, a period).
"""

#: The model kind of off-topic versions in the registry.
KIND = "offtopic"
