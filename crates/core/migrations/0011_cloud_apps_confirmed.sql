-- No public API lets a site admin list the apps installed on a Cloud site (an app's own
-- descriptor is readable by that app only), so the admin confirms each needed cloud app
-- by hand (`ferry apps installed KEY`), per Cloud site (its destination key).
CREATE TABLE cloud_apps_confirmed (
    destination TEXT NOT NULL,
    app_key TEXT NOT NULL,
    confirmed_at TEXT NOT NULL,
    PRIMARY KEY (destination, app_key)
);
