"""What Doppel found: each image's features, a machine judge, and the findings table.

- `features`: per image, the image network's 1280 pooled features and a few cheap
  statistics, computed once per day and kept in the object store (`features/<day>.npz`).
- `judge`: a logistic regression, photo against look-alike, cross-validated grouped by day;
  every image's out-of-fold probability of being the photo, and accuracy per generator with
  its count and 95 % interval.
- `table`: one row per pair (photo, generator): measures, shared labels, the judge's verdicts.
- `intervals`: the Wilson interval every rate here is given with.
"""
