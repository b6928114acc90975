"""GOV: management reviews scheduled, their input packs assembled from the records, decisions and actions."""
